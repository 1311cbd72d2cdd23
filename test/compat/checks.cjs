// The small e2e both consumers run: HTTP through @Locked (200, then 409 while busy), LockService by hand, a leader
// election, clean close.
const http = require('node:http');

function post(port, path) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method: 'POST' }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(body) }));
    });
    request.on('error', reject);
    request.end();
  });
}

function check(condition, what) {
  if (!condition) {
    throw new Error(`compat check failed: ${what}`);
  }
  console.log(`ok - ${what}`);
}

/** The consumer app, built from the packages as the consumer imported them (no decorators in plain JS). */
function defineApp({ Controller, Module, Post, Param }, { LockModule, LockService, Locked }, prefix, redis) {
  class OrdersController {
    constructor(locks) {
      this.locks = locks;
    }
    async confirm() {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { key: this.locks.current().keys[0] };
    }
  }
  Reflect.defineMetadata('design:paramtypes', [LockService], OrdersController);
  const confirm = Object.getOwnPropertyDescriptor(OrdersController.prototype, 'confirm');
  Reflect.decorate([Post(':id/confirm'), Locked('order:{0}', { waitTimeout: 0 })], OrdersController.prototype, 'confirm', confirm);
  Object.defineProperty(OrdersController.prototype, 'confirm', confirm);
  Param('id')(OrdersController.prototype, 'confirm', 0);
  Controller('orders')(OrdersController);

  class AppModule {}
  Module({ imports: [LockModule.forRoot({ redis, prefix })], controllers: [OrdersController] })(AppModule);
  return AppModule;
}

async function runChecks({ common, core, nestLock, prefix, redis = process.env.REDIS_URL }) {
  const { LockService, LockNotAcquiredError } = nestLock;
  const app = await core.NestFactory.create(defineApp(common, nestLock, prefix, redis), { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const [first, second] = await Promise.all([
    post(port, '/orders/7/confirm'),
    new Promise((resolve) => setTimeout(resolve, 100)).then(() => post(port, '/orders/7/confirm')),
  ]);
  check(first.status === 201 && first.body.key === 'order:7', '@Locked route answers with the key built from the param');
  check(second.status === 409 && second.body.error === 'Conflict', 'a busy @Locked route answers 409 Conflict');
  check(!JSON.stringify(second.body).includes('order'), 'the 409 body tells the client the resource is busy, not the key');
  const locks = app.get(LockService);
  const token = await locks.using('compat', (lock) => lock.fencingToken);
  check(Number.isSafeInteger(token), 'LockService.using() hands out a fencing token');
  const held = await locks.acquire('compat');
  const busy = await locks.acquire('compat', { waitTimeout: 0 }).catch((error) => error);
  check(busy instanceof LockNotAcquiredError, 'errors are the exported classes (instanceof works)');
  await held.release();
  const leadership = locks.elect('compat-leader', { ttl: 2000, retry: 200 });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('compat check failed: no term within 5 s')), 5000);
    const subscription = leadership.changes.subscribe((leading) => leading && (clearTimeout(timer), resolve()));
    void subscription;
  });
  check(leadership.isLeader && Number.isSafeInteger(leadership.term), 'LockService.elect() leads with a term');
  await leadership.resign();
  check(!leadership.isLeader, 'resign() ends the term');
  await app.close();
  check(true, 'app.close() returns');
}

module.exports = { runChecks, check };

import { spawnWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('a holder killed with SIGKILL', () => {
  let server: RedisServer;
  let subject: LockApp;

  beforeAll(async () => {
    server = await startRedisServer();
    subject = await bootLockApp({ redis: server.url });
  });

  afterAll(async () => {
    await subject.app.close();
    await server.stop();
  });

  it('leaves the lock to another process within its TTL plus a small margin', async () => {
    const holder = spawnWorker('../faults/holder', [server.url, 'crashed', '1000']);
    await new Promise((resolve) => holder.stdout?.once('data', resolve));
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    const lock = await subject.locks.acquire('crashed', { waitTimeout: 5_000 });
    expect(Date.now() - killedAt).toBeLessThan(1_000 + 300);
    await lock.release();
  }, 20_000);
});

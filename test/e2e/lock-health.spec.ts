import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { LockModule, LockService, MemoryLockStore, type LockModuleOptions } from '../../lib';
import { changeTo } from '../support/leadership';
import { LockHealthIndicator } from '../../lib/terminus';
import { DEAD_REDIS_URL, REDIS_URL } from '../support/redis';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly locks: LockHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.locks.isHealthy('locks')]);
  }
}

async function bootHealthApp(options: LockModuleOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [TerminusModule.forRoot({ logger: false }), LockModule.forRoot({ logger: false, ...options })],
    controllers: [HealthController],
    providers: [LockHealthIndicator],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('LockHealthIndicator (@nestjs/terminus)', () => {
  it('reports the lock backend up, with its latency, when Redis answers', async () => {
    const app = await bootHealthApp({ redis: REDIS_URL });
    const response = await request(app.getHttpServer()).get('/health');
    expect(response.status).toBe(200);
    expect(response.body.info.locks).toEqual({ status: 'up', latencyMs: expect.any(Number), modes: ['exclusive', 'read', 'semaphore'] });
    await app.close();
  });

  it('reports it down with the reason, and the health check answers 503, when Redis is unreachable', async () => {
    const app = await bootHealthApp({ redis: DEAD_REDIS_URL, commandTimeout: 200 });
    const response = await request(app.getHttpServer()).get('/health');
    expect(response.status).toBe(503);
    expect(response.body.error.locks.status).toBe('down');
    expect(response.body.error.locks.message).toMatch(/Could not ping: the lock store \(Redis\) was unreachable/);
    await app.close();
  });

  it('reports the in-memory store up', async () => {
    const app = await bootHealthApp({ store: 'memory' });
    expect((await request(app.getHttpServer()).get('/health')).body.status).toBe('ok');
    await app.close();
  });

  it('lists only exclusive locks for a store without read locks and semaphores (quorum mode)', async () => {
    const app = await bootHealthApp({ store: new MemoryLockStore() });
    const exclusiveOnly = await bootHealthApp({
      store: {
        acquire: async () => ({ acquired: false }),
        extend: async () => false,
        release: async () => false,
        isLocked: async () => false,
      },
    });
    expect((await request(exclusiveOnly.getHttpServer()).get('/health')).body.info.locks.modes).toEqual(['exclusive']);
    expect((await request(app.getHttpServer()).get('/health')).body.info.locks.modes).toEqual(['exclusive', 'read', 'semaphore']);
    await Promise.all([app.close(), exclusiveOnly.close()]);
  });

  it('lists the names this instance leads once the app campaigns, and none on a follower', async () => {
    const store = new MemoryLockStore();
    const [leaderApp, followerApp] = [await bootHealthApp({ store }), await bootHealthApp({ store })];
    const leading = leaderApp.get(LockService).elect('jobs');
    await changeTo(leading, true);
    leaderApp.get(LockService).elect('reports');
    followerApp.get(LockService).elect('jobs');
    await changeTo(leaderApp.get(LockService).elect('reports'), true);
    expect((await request(leaderApp.getHttpServer()).get('/health')).body.info.locks.leading).toEqual(['jobs', 'reports']);
    expect((await request(followerApp.getHttpServer()).get('/health')).body.info.locks).toEqual({
      status: 'up',
      latencyMs: expect.any(Number),
      modes: ['exclusive', 'read', 'semaphore'],
      leading: [],
    });
    await Promise.all([leaderApp.close(), followerApp.close()]);
  });
});

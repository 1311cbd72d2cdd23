import { Redis } from 'ioredis';
import { LockStoreUnavailableError } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('a frozen Redis (SIGSTOP)', () => {
  let server: RedisServer;
  let subject: LockApp;

  beforeAll(async () => {
    server = await startRedisServer();
    subject = await bootLockApp({ redis: server.url, commandTimeout: 300 });
    await subject.locks.isLocked('warm-up');
  });

  afterAll(async () => {
    server.thaw();
    await subject.app.close();
    await server.stop();
  });

  it('fails acquire within waitTimeout plus one command timeout with a clear error, and leaves nothing once it thaws', async () => {
    server.freeze();
    const started = Date.now();
    const error = await subject.locks.acquire('frozen', { waitTimeout: 500 }).catch((e: unknown) => e);
    const took = Date.now() - started;
    server.thaw();
    expect(error).toBeInstanceOf(LockStoreUnavailableError);
    expect((error as Error).message).toMatch(/unreachable.*no answer within 300 ms/);
    expect(took).toBeLessThan(500 + 300 + 300);

    // The attempts the frozen server queued run once it thaws: each is cleaned up by token.
    const redis = new Redis(server.url);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await redis.keys('lock:*')).filter((key) => !key.endsWith(':fence'))).toEqual([]);
    await redis.quit();
    const lock = await subject.locks.acquire('frozen', { waitTimeout: 2_000 });
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });
});

import { Redis } from 'ioredis';
import { LockLostError } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('a holder that blocks its own event loop longer than the TTL', () => {
  let server: RedisServer;
  let redis: Redis;
  let subject: LockApp;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    subject = await bootLockApp({ redis: server.url });
  });

  afterAll(async () => {
    await subject.app.close();
    await redis.quit();
    await server.stop();
  });

  it('reports the loss through its signal on resume and never resurrects the lock', async () => {
    const lock = await subject.locks.acquire('blocked', { ttl: 300 });
    const blockedUntil = Date.now() + 800;
    while (Date.now() < blockedUntil) {
      // Busy: no timer, no I/O, no watchdog runs.
    }
    await new Promise((resolve) => (lock.signal.aborted ? resolve(undefined) : lock.signal.addEventListener('abort', resolve)));
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.isHeld).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await redis.exists('lock:{blocked}')).toBe(0);
    expect(await lock.release()).toBe(false);
  });
});

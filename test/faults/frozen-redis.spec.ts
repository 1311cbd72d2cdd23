import { Redis } from 'ioredis';
import { LockStoreUnavailableError } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { eventually } from '../support/redis';
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

  it('resolves using() with the work’s result when the work succeeded but the release could not reach Redis', async () => {
    const redis = new Redis(server.url);
    try {
      const result = await subject.locks.using(
        'release-unanswered',
        async () => {
          server.freeze();
          return 'work done';
        },
        { ttl: 5_000 },
      );
      expect(result).toBe('work done');
      server.thaw();
      // The release is retried in the background: the key is free long before its 5 s lease ends.
      await eventually(async () => (await redis.exists('lock:{release-unanswered}')) === 0, 'the release is retried', 3_000);
    } finally {
      server.thaw();
      await redis.quit();
    }
  });

  it('leaves no queue entry behind when a waiter whose queued attempt timed out gives up', async () => {
    const other = await bootLockApp({ redis: server.url, commandTimeout: 300 });
    const redis = new Redis(server.url);
    try {
      const holder = await other.locks.acquire('ghost', { ttl: 30_000 });
      server.freeze();
      const controller = new AbortController();
      const waiting = subject.locks.acquire('ghost', { waitTimeout: 10_000, signal: controller.signal }).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 500));
      controller.abort(new Error('gave up'));
      expect(((await waiting) as Error).message).toBe('gave up');
      server.thaw();
      // The attempts the frozen server held run now, and so does the waiter's way out.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await redis.zcard('lock:{ghost}:q')).toBe(0);
      await holder.release();
      // Not handed to the departed waiter: free for the next caller at once.
      expect(await redis.exists('lock:{ghost}')).toBe(0);
    } finally {
      server.thaw();
      await other.app.close();
      await redis.quit();
    }
  });
});

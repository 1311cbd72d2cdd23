import type { Redis } from 'ioredis';
import { LockStoreUnavailableError, MemoryLockStore, type LockStoreReleaseOptions } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { deleteKeysUnder, redisClient, uniquePrefix } from '../support/redis';

describe('await using lock = await locks.acquire(key)', () => {
  let redis: Redis;
  let prefix: string;
  let subject: LockApp;

  beforeAll(() => {
    redis = redisClient();
  });

  afterAll(async () => {
    await redis.quit();
  });

  beforeEach(async () => {
    prefix = uniquePrefix('dispose');
    subject = await bootLockApp({ prefix });
  });

  afterEach(async () => {
    await subject.app.close();
    await deleteKeysUnder(redis, prefix);
  });

  it('holds the lock inside the block and releases it in Redis when the block ends', async () => {
    {
      await using lock = await subject.locks.acquire('order:1');
      expect(await redis.get(`${prefix}{order:1}`)).toBe(lock.token);
    }
    expect(await redis.exists(`${prefix}{order:1}`)).toBe(0);
  });

  it('releases it when the block throws, and the block’s error is what the caller gets', async () => {
    const run = async (): Promise<void> => {
      await using lock = await subject.locks.acquire('order:2');
      expect(lock.isHeld).toBe(true);
      throw new Error('the work failed');
    };
    await expect(run()).rejects.toThrow('the work failed');
    expect(await redis.exists(`${prefix}{order:2}`)).toBe(0);
  });

  it('leaves a lock released by hand inside the block alone (release is idempotent)', async () => {
    {
      await using lock = await subject.locks.acquire('order:3');
      expect(await lock.release()).toBe(true);
      const next = await subject.locks.acquire('order:3', { waitTimeout: 0 });
      await next.release();
    }
    expect(await redis.exists(`${prefix}{order:3}`)).toBe(0);
  });
});

describe('await using with a store that does not answer the release', () => {
  it('does not throw over the block’s outcome: the release is retried in the background', async () => {
    const inner = new MemoryLockStore();
    let failing = true;
    const store = Object.assign(Object.create(inner) as MemoryLockStore, {
      release: (keys: readonly string[], token: string, options?: LockStoreReleaseOptions) =>
        failing ? Promise.reject(new LockStoreUnavailableError('release')) : inner.release(keys, token, options),
    });
    const subject = await bootLockApp({ store, ttl: 2_000 });
    try {
      const result = await (async () => {
        await using lock = await subject.locks.acquire('k');
        expect(lock.isHeld).toBe(true);
        return 'done';
      })();
      expect(result).toBe('done');
      expect(await store.isLocked(['k'])).toBe(true);
      failing = false;
      // The background retry (every 500 ms) frees the key well before its 2 s lease ends.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(await store.isLocked(['k'])).toBe(false);
    } finally {
      await subject.app.close();
    }
  });
});

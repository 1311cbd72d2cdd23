import type { Redis } from 'ioredis';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';
import { runWorker } from './run-worker';

describe('mutual exclusion across processes', () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    redis = redisClient();
    prefix = uniquePrefix('processes');
  });

  afterAll(async () => {
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('4 processes taking one lock 100 times each lose no increment of a non-atomic counter', async () => {
    const counterKey = `${prefix}counter-value`;
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => runWorker('counter', [REDIS_URL, prefix, counterKey, '100'])),
    );
    for (const result of results) {
      expect(result).toEqual({ code: 0, output: '' });
    }
    expect(await redis.get(counterKey)).toBe('400');
  }, 120_000);
});

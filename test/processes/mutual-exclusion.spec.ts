import { REDIS_URL, useTestRedis } from '../support/redis';
import { runWorker } from './run-worker';

describe('mutual exclusion across processes', () => {
  const test = useTestRedis('processes');

  it('4 processes taking one lock 100 times each lose no increment of a non-atomic counter', async () => {
    const counterKey = `${test.prefix}counter-value`;
    const results = await Promise.all([1, 2, 3, 4].map(() => runWorker('counter', [REDIS_URL, test.prefix, counterKey, '100'])));
    for (const result of results) {
      expect(result).toEqual({ code: 0, output: '' });
    }
    expect(await test.redis.get(counterKey)).toBe('400');
  }, 120_000);
});

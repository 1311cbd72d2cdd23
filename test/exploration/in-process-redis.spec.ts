import fc from 'fast-check';
import { RedisLockStore } from '../../lib';
import { keysUnder, uniquePrefix } from '../support/redis';
import { useRedisServer } from '../support/redis-server';
import { realTime } from './exploration.time';
import { steps } from './in-process.commands';
import { settleEverything, World } from './in-process.world';

/** Sequences per CI run: real time is slow, so this slice is short; EXPLORATION_REDIS_RUNS widens it. */
const RUNS = Number(process.env.EXPLORATION_REDIS_RUNS ?? 12);
const SEED = process.env.EXPLORATION_SEED === undefined ? undefined : Number(process.env.EXPLORATION_SEED);

// The same model as in-process.spec.ts, on a real Redis of the test's own and in real time: stalls busy-wait the
// event loop, time passes by sleeping. Invariants are the same, with more slack for a free key (real round trips).
describe('exploration: the in-process layer on a real Redis', () => {
  const own = useRedisServer();

  it(`keeps every invariant over ${RUNS} random sequences`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), steps(20), async (apps, sequence) => {
        const prefix = uniquePrefix('explore');
        const store = new RedisLockStore({ client: own.redis, prefix, logger: false, commandTimeout: 500 });
        const queueHead = async (key: string): Promise<string | undefined> =>
          (await own.redis.zrange(`${prefix}{${key}}:q`, 0, 0))[0]?.split('|')[0];
        const world = new World(apps, store, queueHead, {}, { free: 100, deadline: 100 });
        const time = realTime();
        try {
          await fc.asyncModelRun(() => ({ model: {}, real: { world, time } }), sequence);
          const left = await settleEverything(
            world,
            time,
            async () => {
              const keys = await keysUnder(own.redis, prefix);
              return keys.filter((key) => !key.endsWith(':fence')).map((key) => `${key} left in Redis`);
            },
            400,
          );
          expect([...world.violations, ...left]).toEqual([]);
        } finally {
          await Promise.all(world.apps.map((app) => app.service.onApplicationShutdown()));
          await store.close();
        }
      }),
      { numRuns: RUNS, seed: SEED, verbose: true },
    );
  }, 300_000);
});

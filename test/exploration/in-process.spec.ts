import fc from 'fast-check';
import type { LockModuleOptions } from '../../lib';
import { MemoryLockStore } from '../../lib';
import { VirtualClock } from '../support/virtual-clock';
import { virtualTime } from './exploration.time';
import { steps } from './in-process.commands';
import { memoryLeftovers, memoryQueueHead, settleEverything, World } from './in-process.world';

/** Sequences per CI run; EXPLORATION_RUNS and EXPLORATION_SEED replay or widen a search. */
const RUNS = Number(process.env.EXPLORATION_RUNS ?? 3_000);
const SEED = process.env.EXPLORATION_SEED === undefined ? undefined : Number(process.env.EXPLORATION_SEED);

/** The module options the apps run with: cohorts as by default, with a long linger, or off; strict FIFO or barging. */
const moduleOptions: fc.Arbitrary<LockModuleOptions> = fc.record({
  cohort: fc.constantFrom<LockModuleOptions['cohort']>(undefined, { linger: 20 }, false),
  starvation: fc.constantFrom(0, 0, 5),
});

// Two or three apps on one memory store and a virtual clock, driven through random sequences of acquire (mutex,
// semaphore, read-write; waits, ttl, watchdog, minHold), release, extend, abort, time passing, stalls past the
// lease, store outages and app shutdowns; the world checks the invariants after every step (see World).
describe('exploration: the in-process layer under stalls, outages and shutdowns', () => {
  it(`keeps every invariant over ${RUNS} random sequences`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), moduleOptions, steps(), async (apps, options, sequence) => {
        const clock = new VirtualClock();
        try {
          const store = new MemoryLockStore(options.starvation ? { starvation: options.starvation } : {});
          const world = new World(apps, store, memoryQueueHead(store), options);
          const time = virtualTime(clock);
          await fc.asyncModelRun(() => ({ model: {}, real: { world, time } }), sequence);
          const left = await settleEverything(world, time, memoryLeftovers(store, clock));
          expect([...world.violations, ...left]).toEqual([]);
        } finally {
          clock.uninstall();
        }
      }),
      { numRuns: RUNS, seed: SEED, verbose: true },
    );
  }, 120_000);
});

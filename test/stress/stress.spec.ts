import type { StressOptions } from './stress.runner';
import { runStress } from './stress.runner';

// The bounded run CI does on every change; `npm run stress -- --minutes 10 [--quorum] [--leader] [--starvation 5
// --no-cohort]` runs it longer.
describe('adversarial stress (worker processes killed, paused past their ttl, disconnected, shut down mid-work)', () => {
  const runs: Array<[string, Pick<StressOptions, 'quorum' | 'duration' | 'settings' | 'mode'>]> = [
    ['one Redis, default settings (cohorts with linger, strict FIFO)', { duration: 18_000 }],
    ['one Redis, bounded barging (starvation 5 ms), no cohorts', { duration: 10_000, settings: { starvation: 5, cohort: false } }],
    ['a Redlock quorum of 3', { duration: 14_000, quorum: true }],
    [
      'leader election on one Redis (workers resign, campaign again, get killed and paused past their ttl)',
      { duration: 12_000, mode: 'leader' },
    ],
  ];
  it.each(runs)(
    'finds no violation on %s',
    async (_name, shape) => {
      const lines: string[] = [];
      const { violations, stats } = await runStress({ ...shape, log: (line) => lines.push(line) });
      expect({ violations, seed: lines[0] }).toEqual({ violations: [], seed: lines[0] });
      expect(shape.mode === 'leader' ? stats.terms : stats.clean).toBeGreaterThan(shape.mode === 'leader' ? 10 : 100);
      // Its first fault: a worker closes its app while one of its using() sections is inside.
      expect(stats.shutdownsMidWork).toBeGreaterThanOrEqual(shape.mode === 'leader' ? 0 : 1);
    },
    120_000,
  );
});

import { runStress } from './stress.runner';

// The bounded run CI does on every change; `npm run stress -- --minutes 10 [--quorum]` runs it longer.
describe('adversarial stress (worker processes killed, paused past their ttl, disconnected)', () => {
  it.each([
    ['one Redis', false, 30_000],
    ['a Redlock quorum of 3', true, 25_000],
  ])(
    'finds no violation on %s',
    async (_name, quorum, duration) => {
      const lines: string[] = [];
      const { violations, stats } = await runStress({ duration, quorum, log: (line) => lines.push(line) });
      expect({ violations, seed: lines[0] }).toEqual({ violations: [], seed: lines[0] });
      expect(stats.clean).toBeGreaterThan(100);
    },
    120_000,
  );
});

import { runWorker } from '../processes/run-worker';
import { useRedisServer } from '../support/redis-server';

// A checker in the style of ShedLock's fuzz tester and Jepsen's lock checker: exact count, no overlapping sections.
describe('lost-update checker: 4 app instances x 4 workers x 250 @Locked read-sleep-write sections', () => {
  const own = useRedisServer();

  it('loses no update and runs no two critical sections at the same time', async () => {
    const args = [own.server.url, 'lock:', 'fault:counter-value', 'fault:intervals', '4', '250'];
    const results = await Promise.all([1, 2, 3, 4].map(() => runWorker('../faults/locked-counter', args)));
    expect(results).toEqual(Array(4).fill({ code: 0, output: '' }));
    expect(await own.redis.get('fault:counter-value')).toBe('4000');
    const intervals = (await own.redis.lrange('fault:intervals', 0, -1))
      .map((line) => line.split(',').map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    expect(intervals).toHaveLength(4000);
    let latestEnd = Number.NEGATIVE_INFINITY;
    const overlapping = intervals.filter(([start, end]) => {
      const overlaps = start < latestEnd;
      latestEnd = Math.max(latestEnd, end);
      return overlaps;
    });
    expect(overlapping).toEqual([]);
  }, 180_000);
});

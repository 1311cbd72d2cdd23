import { setTimeout as sleep } from 'node:timers/promises';
import { ReleaseLatch } from '../../lib/stores/release.latch';

describe('ReleaseLatch', () => {
  it('wakes the newest wait on release after an older wait (left pending by a race) timed out', async () => {
    const latch = new ReleaseLatch();
    // A quorum waiter races the latches of its nodes: the losers' waits stay pending, then the next race waits again.
    void latch.wait(30);
    const newest = latch.wait(5_000);
    await sleep(60);
    const releasedAt = performance.now();
    latch.notify();
    await newest;
    expect(performance.now() - releasedAt).toBeLessThan(100);
  });

  it('never lets a re-check push a wait past its own timeout', async () => {
    const latch = new ReleaseLatch();
    const started = performance.now();
    const waiting = latch.wait(100);
    latch.recheckWithin(10_000);
    await waiting;
    expect(performance.now() - started).toBeLessThan(300);
  });

  it('ends a wait at a re-check sooner than its timeout, without counting it as a release', async () => {
    const latch = new ReleaseLatch();
    const started = performance.now();
    const waiting = latch.wait(10_000);
    latch.recheckWithin(50);
    expect(await waiting).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('keeps a hand-off that arrives between two waits for the next one', async () => {
    const latch = new ReleaseLatch();
    latch.notify({ fencingToken: 7, lease: 100 });
    await expect(latch.wait(5_000)).resolves.toEqual({ fencingToken: 7, lease: 100 });
  });
});

import { performance } from 'node:perf_hooks';
import type { Lock } from '../core/lock.js';
import { pause } from '../utils/timer.util.js';

/** How often a lapsed lease is looked at again, in ms. */
const LOOK_AGAIN = 5;

/**
 * Waits while `lock` is in the state a stall leaves it in: its lease over on this process's clock, and its timers
 * (a renewal in flight, the expiry) yet to say whether it was renewed in time or lost. Resolves at once for a lock
 * that is held or lost. Releasing a lock in that state would leave it to the timers of a lock already let go.
 * @param lock the lock
 * @param within the longest wait, in ms (a renewal's answer comes within the store's command timeout)
 */
export async function untilLeaseDecided(lock: Lock, within: number): Promise<void> {
  const deadline = performance.now() + within;
  while (!lock.isHeld && !lock.signal.aborted && performance.now() < deadline) {
    await pause(LOOK_AGAIN);
  }
}

import { clock } from '../utils/clock.util.js';
import type { LockStoreGrant } from '../interfaces/index.js';
import { startTimer, type Timer } from '../utils/timer.util.js';

/** The wait in progress: how to end it, and how to move its timer forward. */
interface PendingWait {
  readonly finish: () => void;
  readonly rearm: () => void;
}

/**
 * Remembers that a release (or a hand-off to this waiter) happened until the waiter takes it, so one that
 * lands between a failed attempt and the next wait is never missed.
 */
export class ReleaseLatch {
  private released = false;
  private grant?: LockStoreGrant;
  private recheckAt = Number.POSITIVE_INFINITY;
  private pending?: PendingWait;

  /**
   * Records a release, or the hand-off of the lock to this waiter, and ends the current wait, if any.
   * @param grant the hand-off, if the lock was given to this waiter
   */
  readonly notify = (grant?: LockStoreGrant): void => {
    this.released = true;
    this.grant = grant ?? this.grant;
    this.pending?.finish();
  };

  /**
   * Ends the current (or next) wait no later than `delay` ms from now, without counting as a release. It never
   * makes a wait last longer than the timeout it was given.
   * @param delay ms
   */
  recheckWithin(delay: number): void {
    const at = clock.now() + delay;
    if (at < this.recheckAt) {
      this.recheckAt = at;
      this.pending?.rearm();
    }
  }

  /**
   * Resolves at once if a release was recorded since the last wait; otherwise on the next release, after
   * `timeout` ms (or the re-check asked for, if sooner), or when `signal` aborts, whichever comes first.
   * @param timeout longest wait in ms (any duration)
   * @param signal ends the wait early
   * @returns the hand-off, if the lock was given to this waiter
   */
  wait(timeout: number, signal?: AbortSignal): Promise<LockStoreGrant | undefined> {
    if (this.released || signal?.aborted) {
      return Promise.resolve(this.take());
    }
    const deadline = clock.now() + timeout;
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const wait: PendingWait = {
        finish: () => {
          timer?.clear();
          signal?.removeEventListener('abort', wait.finish);
          // Only this wait's own registration is cleared: a newer wait may have replaced it.
          if (this.pending === wait) {
            this.pending = undefined;
          }
          resolve(this.take());
        },
        rearm: () => {
          timer?.clear();
          timer = startTimer(wait.finish, Math.min(deadline, this.recheckAt) - clock.now(), false);
        },
      };
      this.pending?.finish();
      this.pending = wait;
      wait.rearm();
      signal?.addEventListener('abort', wait.finish, { once: true });
    });
  }

  private take(): LockStoreGrant | undefined {
    const grant = this.grant;
    this.released = false;
    this.grant = undefined;
    this.recheckAt = Number.POSITIVE_INFINITY;
    return grant;
  }
}

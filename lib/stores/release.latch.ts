import { performance } from 'node:perf_hooks';
import type { LockStoreGrant } from '../interfaces/index.js';

/**
 * Remembers that a release (or a hand-off to this waiter) happened until the waiter takes it, so one that
 * lands between a failed attempt and the next wait is never missed.
 */
export class ReleaseLatch {
  private released = false;
  private grant?: LockStoreGrant;
  private wake?: () => void;
  private recheckAt = Number.POSITIVE_INFINITY;
  private reschedule?: (delay: number) => void;

  /**
   * Records a release, or the hand-off of the lock to this waiter, and ends the current wait, if any.
   * @param grant the hand-off, if the lock was given to this waiter
   */
  readonly notify = (grant?: LockStoreGrant): void => {
    this.released = true;
    this.grant = grant ?? this.grant;
    this.wake?.();
  };

  /**
   * Ends the current (or next) wait no later than `delay` ms from now, without counting as a release.
   * @param delay ms
   */
  recheckWithin(delay: number): void {
    const at = performance.now() + delay;
    if (at < this.recheckAt) {
      this.recheckAt = at;
      this.reschedule?.(delay);
    }
  }

  /**
   * Resolves at once if a release was recorded since the last wait; otherwise on the next release, after
   * `timeout` ms, or when `signal` aborts, whichever comes first.
   * @param timeout longest wait in ms
   * @param signal ends the wait early
   * @returns the hand-off, if the lock was given to this waiter
   */
  wait(timeout: number, signal?: AbortSignal): Promise<LockStoreGrant | undefined> {
    if (this.released || signal?.aborted) {
      return Promise.resolve(this.take());
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.reschedule = undefined;
        resolve(this.take());
      };
      let timer = setTimeout(done, Math.max(0, Math.min(timeout, this.recheckAt - performance.now())));
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
      this.reschedule = (delay) => {
        clearTimeout(timer);
        timer = setTimeout(done, Math.max(0, delay));
      };
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

import { performance } from 'node:perf_hooks';

/**
 * Remembers that a release happened until a waiter takes it, so a release that lands between a failed
 * attempt and the next wait is never missed.
 */
export class ReleaseLatch {
  private released = false;
  private wake?: () => void;
  private recheckAt = Number.POSITIVE_INFINITY;
  private reschedule?: (delay: number) => void;

  /** Records a release and ends the current wait, if any. */
  readonly notify = (): void => {
    this.released = true;
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
   */
  wait(timeout: number, signal?: AbortSignal): Promise<void> {
    if (this.released || signal?.aborted) {
      this.released = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.reschedule = undefined;
        this.released = false;
        this.recheckAt = Number.POSITIVE_INFINITY;
        resolve();
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
}

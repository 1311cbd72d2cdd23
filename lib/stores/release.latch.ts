/**
 * Remembers that a release happened until a waiter takes it, so a release that lands between a failed
 * attempt and the next wait is never missed.
 */
export class ReleaseLatch {
  private released = false;
  private wake?: () => void;

  /** Records a release and ends the current wait, if any. */
  readonly notify = (): void => {
    this.released = true;
    this.wake?.();
  };

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
        this.released = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeout));
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}

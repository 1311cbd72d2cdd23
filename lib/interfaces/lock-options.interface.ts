/** Options of one acquisition; each falls back to the module's option of the same name. */
export interface LockOptions {
  /**
   * Lease in ms: how long the lock lives in the store without an extension. A positive integer, at least 10.
   * @default the module's `ttl` (30000)
   */
  ttl?: number;
  /**
   * How long `acquire` waits for a busy lock, in ms; `0` tries once.
   * @default the module's `waitTimeout` (10000)
   */
  waitTimeout?: number;
  /**
   * Keep extending the lease (at about ttl/3) while the lock is held.
   * @default the module's `autoExtend` (true)
   */
  autoExtend?: boolean;
  /**
   * Shortest time the lock stays taken, in ms from its acquisition, however soon it is released: a release before
   * then keeps the key (token-checked) until `minHold` has passed, and lets it expire. For jobs that many instances
   * start at once and that must run once (ShedLock's `lockAtLeastFor`). Whole ms, 0 or more.
   * @default 0, except on a `@Cron` / `@Interval` method with `onBusy: 'skip'` (see `@Locked`)
   */
  minHold?: number;
  /** Cancels the wait: `acquire` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `using()` and `stream()`: those of `acquire()`, and what to do when the lock stays busy. */
export interface UsingOptions extends LockOptions {
  /**
   * What to do when the lock stays busy: `'throw'` a `LockNotAcquiredError` (HTTP 409), or `'skip'` the work, and
   * settle with `undefined` (a stream completes empty). With `'skip'`, `waitTimeout` defaults to 0.
   * @default 'throw'
   */
  onBusy?: 'throw' | 'skip';
}

/** A lock key, or several keys taken together (all or nothing). */
export type LockKey = string | readonly string[];

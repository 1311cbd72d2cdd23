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
  /**
   * A counting semaphore: at most `limit` holders of the key at once, each with its own permit (a full `Lock`, with
   * its own fencing token, watchdog and signal). Every caller of a key must give the same limit: one that differs
   * from the holders' is refused with an `InvalidLockOptionsError` naming both. A whole number, 1 or more; not with
   * `mode: 'read'`.
   * @default 1 (a mutex)
   */
  limit?: number;
  /**
   * A read-write lock: `'read'` holds the key together with any other readers and never with a writer; `'write'` holds
   * it alone (a writer is a plain mutex, so `@Locked('k')` is a writer of `k`). Fair: a reader that arrives after a
   * queued writer waits for it.
   * @default 'write'
   */
  mode?: 'read' | 'write';
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

import { LOCK_STORE_TOKEN } from '../lock.constants.js';
import type { LockShare } from './lock-share.interface.js';

/** The lock, handed to a waiter by the releasing holder (or found already handed to it). */
export interface LockStoreGrant {
  /** Fencing token: strictly greater than every one issued before for any of the keys. */
  fencingToken: number;
  /** ms the lease runs from the hand-off, if shorter than the waiter's ttl (capped by its wait deadline). */
  lease?: number;
  /**
   * The hand-off counts only once an acquire attempt by the waiter confirms it (a store that must check
   * something first, such as replication, sets it). Stores never set it on the result of `acquire`.
   */
  confirm?: boolean;
  /**
   * How many fencing tokens, from `fencingToken` on, belong to this grant: the holder's process may pass the lock
   * to its own next callers with the following ones, without asking the store (every later grant is higher).
   * @default 1
   */
  reserved?: number;
}

/** How a release ends a hold. */
export interface LockStoreReleaseOptions {
  /** ms the keys stay taken before they expire (a minimum hold) instead of being freed now. @default 0 */
  keepFor?: number;
  /** Hand a queued key straight to the head of its queue, whatever its wait (the holder gives up its turn). */
  yield?: boolean;
  /** How the hold shared its keys, as it was acquired. @default exclusive */
  share?: LockShare;
  /**
   * The holder's lease had not run out (by its own clock) when it released. A store that cannot tell whether an
   * earlier delivery of this release ran (a resend after a dropped connection) may then count keys it finds no
   * longer the token's as released: they were the holder's until it let go. Without it, such keys count as lost.
   */
  leaseRunning?: boolean;
}

/** Outcome of one acquisition attempt. */
export type LockStoreAcquireResult =
  | ({
      /** The lock is now held with the given token. */
      acquired: true;
    } & LockStoreGrant)
  | {
      /** Another holder has (one of) the keys. */
      acquired: false;
      /** ms until the blocking holder's lease ends, if known; a waiter re-checks no later than this. */
      retryAfter?: number;
      /**
       * The highest fencing token issued for the key when the attempt was refused, if known. A hand-off to the
       * caller with a token at or below it happened before this refusal: it is stale and must not be used.
       */
      lastFencingToken?: number;
    };

/**
 * A subscription to release notifications for some keys, opened before a waiter retries so that a
 * release between a failed attempt and the wait is never missed.
 */
export interface LockReleaseWatch {
  /** Resolves once the subscription is live. */
  readonly ready: Promise<void>;
  /**
   * Resolves when one of the keys was released for this waiter since the last call (or since the watch opened), after
   * `timeout` ms at the latest, or when `signal` aborts.
   * @param timeout longest wait in ms
   * @param signal ends the wait early
   * @returns the grant if the releasing holder handed the lock to this waiter: it holds the lock now
   */
  next(timeout: number, signal?: AbortSignal): Promise<LockStoreGrant | undefined>;
  /** Ends the subscription. */
  close(): void;
}

/**
 * The backend of the locks. `RedisLockStore` and `MemoryLockStore` implement it, and a custom one can be
 * passed as the module's `store` option. Keys reach the store as the caller named them; namespacing is the
 * store's business. Every method is atomic across all the keys it is given.
 */
export interface LockStore {
  /**
   * The store takes shared holds (`share` on acquire, extend, release and leave: read locks and semaphore
   * permits). Without it the service refuses `limit` and `mode: 'read'` with an `InvalidLockOptionsError`.
   */
  readonly shares?: boolean;
  /**
   * Takes every key for `token` if none is held (all or nothing) and issues a fencing token. A single key is
   * fair: it goes to the longest-waiting live waiter first, and a caller that may wait (`wait` > 0) takes its
   * place in that queue for `wait` ms (a live waiter keeps it by asking again before then, so one that died soon
   * gives it up). A release hands the key straight to the head of its queue (see
   * `watch`); an attempt by a waiter that was handed the key reports it as acquired and renews its lease to `ttl`.
   * @param keys the keys, in the caller's order
   * @param token unique id of this acquisition
   * @param ttl lease in ms
   * @param wait how long the caller's place in the queue lasts, in ms (at most the rest of its wait); 0 does not
   * queue @default 0
   * @param share a shared hold: a read lock (admitted with other readers, queued behind any writer that arrived
   * first) or a semaphore permit (admitted while fewer than `limit` hold the key); several keys are taken one
   * permit each, all or nothing
   * @throws InvalidLockOptionsError when the key's holders share it otherwise (another limit, or another mode)
   * @throws LockStoreUnavailableError when the store did not answer; an attempt that may wait can still have queued
   * the caller (or got it the key by hand-off): the caller tries again with the same token, or calls `leave`
   */
  acquire(keys: readonly string[], token: string, ttl: number, wait?: number, share?: LockShare): Promise<LockStoreAcquireResult>;
  /**
   * Gives up the caller's place in the queues of the keys (the wait ended without the lock), releasing a key
   * that was handed to it meanwhile, and waking the next waiter if the lock is free.
   * @param ttl the ttl the caller queued with
   * @param share the share it asked for
   */
  leave?(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<void>;
  /**
   * Resets the lease of every key to `ttl` if all are still held by `token`; never re-creates a key.
   * @param share the share it holds with
   * @returns false if any key is gone or held by another token
   */
  extend(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<boolean>;
  /**
   * Deletes the keys that `token` still holds, and notifies waiters. With `keepFor`, keeps each such key for
   * `keepFor` ms more instead (never touching a key another token holds) and tells waiters when it will be free.
   * @param options a minimum hold, or giving up the turn
   * @returns true if every key was still held by `token`
   */
  release(keys: readonly string[], token: string, options?: LockStoreReleaseOptions): Promise<boolean>;
  /** Whether any of the keys is held by anyone. */
  isLocked(keys: readonly string[]): Promise<boolean>;
  /**
   * The token of the exclusive holder of `key` (the service's tokens start with `app@host:pid/`), for leader
   * election to tell followers who leads. A store without it leaves `Leadership.leader` unknown on followers.
   * @returns undefined when the key is free or held by shared holders (read locks, permits)
   */
  holder?(key: string): Promise<string | undefined>;
  /**
   * Opens a release subscription on the keys for the waiter `token`: it wakes when a key is handed to this
   * token's turn (or to anyone). With `onlyIfLive`, returns `undefined` instead of subscribing anew, so that an
   * uncontended acquisition costs no subscription. A store without it makes waiters re-check when the holder's
   * lease ends (`retryAfter`).
   */
  watch?(keys: readonly string[], token: string, onlyIfLive?: boolean): LockReleaseWatch | undefined;
  /**
   * How much of a lease the caller must not count on, in ms, for clocks that drift between the store's nodes: a
   * holder counts a lease of `ttl - drift(ttl)` from when it asked. The quorum store deducts Redlock's 1% + 2 ms.
   * @default 0
   */
  drift?(ttl: number): number;
  /** Resolves when the backend answers (health checks); rejects with the reason otherwise. */
  ping?(): Promise<void>;
  /** Frees what the store owns (connections, timers). Called on app shutdown for stores the module created. */
  close?(): Promise<void>;
}

/** Injection token of the module's {@link LockStore}: `@Inject(LockStore) store: LockStore`. */
export const LockStore = LOCK_STORE_TOKEN;

import { LockStoreUnavailableError } from '../errors/index.js';
import type {
  LockReleaseWatch,
  LockShare,
  LockStore,
  LockStoreAcquireResult,
  LockStoreGrant,
  LockStoreReleaseOptions,
} from '../interfaces/index.js';
import { MemoryLockStore, type MemoryLockStoreOptions } from '../stores/memory/memory-lock.store.js';
import { ReleaseLatch } from '../stores/release.latch.js';
import { formatKeys } from '../utils/lock-keys.util.js';

/** What a token asked the store for, so that `lose()` can take it away again. */
interface Hold {
  readonly keys: readonly string[];
  readonly share?: LockShare;
}

/**
 * The store of `LockTestingModule`: the in-memory store, with faults `LockFaults` switches on. A busy key refuses
 * every attempt as a key another instance holds would (waiters wait, and are woken when it is cleared); an
 * unavailable store rejects every call with `LockStoreUnavailableError`; a lost key's holds are taken away.
 * @internal
 */
export class LockFaultsStore implements LockStore {
  /** Read locks and semaphore permits are supported. */
  readonly shares = true;
  private readonly inner: MemoryLockStore;
  private readonly busyKeys = new Set<string>();
  private readonly busyPatterns: RegExp[] = [];
  private down = false;
  /** What each token in play asked for: from its first attempt until it releases or leaves. */
  private readonly holds = new Map<string, Hold>();
  /** The waits in progress: a cleared fault wakes them, as a release would. */
  private readonly waits = new Set<ReleaseLatch>();

  /** @param options the memory store's options */
  constructor(options: MemoryLockStoreOptions = {}) {
    this.inner = new MemoryLockStore(options);
  }

  /**
   * Makes `key` (or every key matching it) busy, as if another instance held it.
   * @param key a key or a pattern
   */
  makeBusy(key: string | RegExp): void {
    if (typeof key === 'string') {
      this.busyKeys.add(key);
    } else {
      // A global or sticky pattern keeps state between tests of it.
      this.busyPatterns.push(new RegExp(key.source, key.flags.replace(/[gy]/g, '')));
    }
  }

  /** Makes every call fail (or succeed again). */
  setUnavailable(on: boolean): void {
    this.down = on;
    if (!on) {
      this.wakeWaiters();
    }
  }

  /** Ends every fault, and wakes the waiters it kept waiting. */
  clear(): void {
    this.busyKeys.clear();
    this.busyPatterns.length = 0;
    this.down = false;
    this.wakeWaiters();
  }

  /**
   * Takes away every hold on `key`, as an expired lease would: its holders are told by their next extension.
   * @param key the key
   */
  async dropHolds(key: string): Promise<void> {
    const dropped = [...this.holds].filter(([, hold]) => hold.keys.includes(key));
    for (const [token, { keys, share }] of dropped) {
      await this.inner.release(keys, token, { share });
    }
  }

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0, share?: LockShare): Promise<LockStoreAcquireResult> {
    this.check('acquire', keys);
    this.holds.set(token, { keys, share });
    if (keys.some((key) => this.isBusy(key))) {
      // Held by "another instance" until cleared: no lease to wait for, so the waiter sleeps until it is woken.
      this.forgetUnlessWaiting(token, wait);
      return { acquired: false };
    }
    const result = await this.inner.acquire(keys, token, ttl, wait, share);
    if (!result.acquired) {
      this.forgetUnlessWaiting(token, wait);
    }
    return result;
  }

  async leave(keys: readonly string[], token: string): Promise<void> {
    this.check('leave the queue of', keys);
    this.holds.delete(token);
    await this.inner.leave(keys, token);
  }

  async extend(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<boolean> {
    this.check('extend', keys);
    return this.inner.extend(keys, token, ttl, share);
  }

  async release(keys: readonly string[], token: string, options?: LockStoreReleaseOptions): Promise<boolean> {
    this.check('release', keys);
    this.holds.delete(token);
    return this.inner.release(keys, token, options);
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    this.check('check', keys);
    return keys.some((key) => this.isBusy(key)) || this.inner.isLocked(keys);
  }

  watch(keys: readonly string[], token: string): LockReleaseWatch {
    const inner = this.inner.watch(keys, token);
    const latch = new ReleaseLatch();
    this.waits.add(latch);
    return {
      ready: inner.ready,
      next: async (timeout, signal) => {
        const done = new AbortController();
        const either = signal ? AbortSignal.any([signal, done.signal]) : done.signal;
        // A hand-off the inner wait drops when the other one ends first is not lost: the key stays the waiter's in the
        // store, and its next attempt finds it so.
        const grant: LockStoreGrant | undefined = await Promise.race([inner.next(timeout, either), latch.wait(timeout, either)]);
        done.abort();
        return grant;
      },
      close: () => {
        this.waits.delete(latch);
        inner.close();
      },
    };
  }

  async ping(): Promise<void> {
    this.check('ping', []);
  }

  async close(): Promise<void> {
    this.waits.clear();
    this.holds.clear();
    await this.inner.close();
  }

  private isBusy(key: string): boolean {
    return this.busyKeys.has(key) || this.busyPatterns.some((pattern) => pattern.test(key));
  }

  private forgetUnlessWaiting(token: string, wait: number): void {
    if (wait <= 0) {
      this.holds.delete(token);
    }
  }

  private wakeWaiters(): void {
    this.waits.forEach((latch) => latch.notify());
  }

  private check(operation: string, keys: readonly string[]): void {
    if (this.down) {
      const what = keys.length === 0 ? operation : `${operation} lock ${formatKeys(keys)}`;
      throw new LockStoreUnavailableError(what, new Error('LockFaults.unavailable() is on'));
    }
  }
}

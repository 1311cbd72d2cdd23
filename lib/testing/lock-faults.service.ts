import { Inject, Injectable } from '@nestjs/common';
import { InvalidLockOptionsError } from '../errors/index.js';
import { LockStore } from '../interfaces/index.js';
import { LockService } from '../core/lock.service.js';
import { assertLockKey } from '../options/lock-key.validator.js';
import { describe } from '../utils/describe.util.js';
import { LockFaultsStore } from './lock-faults.store.js';

/**
 * Drives the store of `LockTestingModule` in your tests: makes keys busy as if another instance held them, the store
 * unreachable, or held locks lost, so that the 409, skip, 503 and `signal` paths of your code can be tested without a
 * Redis. Works with `@Locked`, `@UseLock`, `LockService` (`acquire`, `using`, `stream`), semaphores and read-write
 * locks. Inject it, or `moduleRef.get(LockFaults)`.
 *
 * ```ts
 * faults.busy('order:1');            // order:1 is held by "another instance" until clear()
 * faults.busy(/^order:/);            // so is every key matching the pattern
 * faults.unavailable();              // every store call fails: LockStoreUnavailableError (503)
 * await faults.lose('order:1');      // the locks held on order:1 are lost now: signal aborts, isHeld turns false
 * faults.clear();                    // back to normal; waiters kept waiting by a fault are woken
 * ```
 */
@Injectable()
export class LockFaults {
  private readonly store: LockFaultsStore;

  /**
   * @param store the module's store: `LockTestingModule`'s
   * @param locks the app's LockService
   */
  constructor(
    @Inject(LockStore) store: LockStore,
    private readonly locks: LockService,
  ) {
    if (!(store instanceof LockFaultsStore)) {
      throw new InvalidLockOptionsError(
        `LockFaults drives the store of LockTestingModule, but this app's lock store is ${describe(store)}: import ` +
          `LockTestingModule.forRoot() from 'nest-lock/testing' instead of LockModule in the test.`,
      );
    }
    this.store = store;
  }

  /**
   * Makes a key, or every key matching a pattern, busy until {@link clear}: held by "another instance", so an attempt
   * waits its `waitTimeout` and fails with `LockNotAcquiredError` (409), `tryAcquire()` gives `null`, `onBusy: 'skip'`
   * skips, a semaphore has no permit left and a read lock waits, and `isLocked()` is true. Locks this app already holds
   * stay held.
   * @param key a key, or a RegExp matched against each key
   */
  busy(key: string | RegExp): void {
    if (!(key instanceof RegExp)) {
      assertLockKey(key, 'LockFaults.busy(): key');
    }
    this.store.makeBusy(key);
  }

  /**
   * Makes every store call fail with `LockStoreUnavailableError` (503), as a Redis that cannot be reached would: an
   * acquisition retries until its `waitTimeout`, then fails; held locks cannot be extended (and are lost when their
   * lease runs out) or released (a release is retried in the background).
   * @param on `false` makes the store answer again @default true
   */
  unavailable(on = true): void {
    if (typeof on !== 'boolean') {
      throw new InvalidLockOptionsError(`LockFaults.unavailable(): on must be true or false, got ${describe(on)}.`);
    }
    this.store.setUnavailable(on);
  }

  /**
   * Makes the locks held on `key` (by this app, including semaphore permits and read locks) lost now, as a lease that
   * ran out would: their `signal` aborts with a `LockLostError` and `isHeld` turns false before this resolves, and the
   * key is free for others.
   * @param key the key
   */
  async lose(key: string): Promise<void> {
    assertLockKey(key, 'LockFaults.lose(): key');
    await this.store.dropHolds(key);
    await this.locks.checkHeld(key);
  }

  /** Ends every fault: no key is busy, and the store answers. Waiters a fault kept waiting are woken. */
  clear(): void {
    this.store.clear();
  }
}

import type { LockShare, LockStore, LockStoreGrant } from '../../interfaces/index.js';
import type { ResolvedLockOptions } from '../../options/lock-options.validator.js';
import { clock } from '../../utils/clock.util.js';
import type { Lock } from '../lock.js';
import { Cohort, type CohortBounds, type LocalPass } from './cohort.js';
import type { LocalQueue } from './local-queue.js';

/** What the hand-off inside a process needs. */
export interface LocalHandOffContext {
  readonly store: LockStore;
  readonly queue: LocalQueue;
  /** The module's `cohort` bounds, or false: every release goes to the store. */
  readonly bounds: CohortBounds | false;
  /** Aborts when the app shuts down: nothing is parked from then on. */
  readonly stopped: AbortSignal;
}

/** The lease a caller gets with a pass: counted from `startedAt` (`clock.now()`), `lease` ms long. */
export interface ReceivedLease {
  readonly startedAt: number;
  readonly lease: number;
}

/**
 * Passes a lock between callers of one process under one store lease (lock cohorting), with the lease as the only
 * authority: what a caller receives is what is left of the lease when the lock reaches it, and a lease with too
 * little left is renewed by one token-checked command (or given back) before anyone is handed it.
 */
export class LocalHandOff {
  /** @param context the store, the process's queue and the bounds */
  constructor(private readonly context: LocalHandOffContext) {}

  /**
   * The cohort of a grant from the store, if it can be passed on: a single key held exclusively, with fencing
   * tokens to spare, and cohorts on.
   * @param keys the keys granted
   * @param token the store token
   * @param granted what the store granted
   * @param startedAt `clock.now()` when the successful attempt started
   * @param contended granted after a wait
   * @param share how the caller shares the key (shared holds are never passed: each caller holds its own)
   */
  cohortOf(
    keys: readonly string[],
    token: string,
    granted: LockStoreGrant,
    startedAt: number,
    contended: boolean,
    share: LockShare | undefined,
  ): Cohort | undefined {
    const reserved = granted.reserved ?? 1;
    if (!this.context.bounds || keys.length !== 1 || reserved < 2 || share) {
      return undefined;
    }
    return new Cohort(keys[0], token, granted.fencingToken, reserved, startedAt, contended);
  }

  /**
   * Offers a lock being released (and still held) to the next caller of this process waiting for the key, within
   * the cohort's bounds; for a contended key with no such caller yet, keeps the lease a short while
   * (`cohort.linger`) for one. Never while a minimum hold runs: the store keeps the key from everyone then.
   * @param lock the lock being released
   * @param cohort its cohort
   * @param keepFor ms of its minimum hold still to run
   * @returns true if it was passed on or parked; otherwise whether the store's release should yield the turn to the
   * store's queue (the bounds were reached while callers of this process still wait)
   */
  passOn(lock: Lock, cohort: Cohort, keepFor: number): boolean | 'yield' {
    const { bounds, queue, stopped } = this.context;
    const now = clock.now();
    const leaseEnd = lock.leaseEnd;
    const within = bounds !== false && cohort.mayPass(bounds, now);
    if (within && keepFor === 0 && leaseEnd > now) {
      const waiting = queue.hasWaiters(cohort.key);
      if (waiting && queue.passOn(cohort.key, () => cohort.pass(leaseEnd))) {
        return true;
      }
      if (!waiting && cohort.contended && bounds.linger > 0 && leaseEnd - now > bounds.linger && !stopped.aborted) {
        queue.park(cohort.pass(leaseEnd), bounds.linger, () => void this.release(cohort).catch(() => undefined));
        return true;
      }
    }
    return !within && queue.hasWaiters(cohort.key) ? 'yield' : false;
  }

  /**
   * The receiving caller's side of a pass, at the moment the lock reaches it: the rest of the lease as it is (up to
   * the caller's ttl), if at least half its ttl is left for a caller with a watchdog, or its whole ttl for one without;
   * otherwise the lease renewed to the caller's ttl by a token-checked extension first. A renewal only ever lengthens
   * the lease in the store: waiters of other processes re-check by the lease they were told of. When it fails (the
   * lease ended, or the store took it back), the process's hold ends, the lease is given back, and the caller must
   * ask the store.
   * @param pass the pass
   * @param options the receiving caller's options
   * @returns its lease, or undefined when the pass cannot be used
   * @throws LockStoreUnavailableError when the store did not answer the renewal (the hold has ended all the same)
   */
  async receive(pass: LocalPass, options: ResolvedLockOptions): Promise<ReceivedLease | undefined> {
    const { cohort } = pass;
    const startedAt = clock.now();
    const left = pass.leaseEnd - startedAt;
    if (left >= (options.autoExtend ? options.ttl / 2 : options.ttl)) {
      return { startedAt, lease: Math.min(options.ttl, left) };
    }
    const { store } = this.context;
    let renewed: boolean;
    try {
      renewed = await store.extend([cohort.key], cohort.token, options.ttl);
    } catch (error) {
      this.giveBack(cohort);
      throw error;
    }
    if (renewed) {
      return { startedAt, lease: options.ttl - (store.drift?.(options.ttl) ?? 0) };
    }
    this.giveBack(cohort);
    return undefined;
  }

  /**
   * Ends every parked lease (app shutdown) and gives them back to the store.
   * @returns once the store answered
   */
  async unparkAll(): Promise<void> {
    await Promise.allSettled(this.context.queue.unparkAll().map(({ cohort }) => this.release(cohort)));
  }

  /** Ends the process's hold on a lease nobody here holds, and gives the lease back to the store. */
  private giveBack(cohort: Cohort): void {
    this.context.queue.end(cohort);
    void this.release(cohort).catch(() => undefined);
  }

  /** Gives a lease back to the store (token-checked: never another holder's). */
  private release(cohort: Cohort): Promise<boolean> {
    return this.context.store.release([cohort.key], cohort.token);
  }
}

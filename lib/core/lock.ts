import { clock } from '../utils/clock.util.js';
import { LockLostError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockEvent, LockShare, LockStore } from '../interfaces/index.js';
import type { LockLogger } from '../lock.logger.js';
import { assertLockOptions } from '../options/lock-options.validator.js';
import { shareFields } from '../utils/lock-share.util.js';
import { startTimer, type Timer } from '../utils/timer.util.js';

/** What a {@link Lock} needs from the service that created it. */
export interface LockHandleContext {
  readonly store: LockStore;
  readonly logger: LockLogger;
  /**
   * Called once, when the lock is released (`passed`: to the next caller of this process, under the same lease) or
   * lost.
   */
  settled(lock: Lock, state: 'passed' | 'released' | 'lost'): void;
  /**
   * Offers a lock being released to the next caller of this process, under the same lease.
   * @param keepFor ms of its minimum hold still to run (the store must keep the key that long)
   * @returns true if it was passed on; otherwise whether the store's release should yield the turn (hand the key
   * to the head of the store's queue at once) or not
   */
  passOn?(lock: Lock, keepFor: number): boolean | 'yield';
  /** Publishes what happened to the lock. */
  emit(event: LockEvent): void;
  /** Aborts when the app shuts down: background work of the lock stops. */
  readonly stopped: AbortSignal;
}

/** How a {@link Lock} came to be. */
export interface LockGrant {
  readonly keys: readonly string[];
  readonly token: string;
  readonly fencingToken: number;
  readonly ttl: number;
  /** The first lease, if shorter than `ttl` (a hand-off capped by the wait deadline, or one found half-used). */
  readonly lease?: number;
  readonly autoExtend: boolean;
  /** ms from the grant during which a release keeps the key taken (see `LockOptions.minHold`). */
  readonly minHold: number;
  /** `clock.now()` when the successful attempt started: the lease is counted from there. */
  readonly startedAt: number;
  /** A read lock or a semaphore permit; undefined for an exclusive lock. */
  readonly share?: LockShare;
}

const TTL_OPTION: ReadonlySet<string> = new Set(['ttl']);

/** `Symbol.asyncDispose`: Node 20 and 22 define it as this registered symbol, which a `vm` context (Jest's) lacks. */
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

/** How often a release the store did not answer is tried again (until the lease's local end). */
const RELEASE_RETRY_INTERVAL = 500;

/**
 * A held lock. Created by `LockService`; release it when the work is done (`using()` does it for you).
 *
 * While it is held with `autoExtend`, a watchdog extends the lease at about ttl/3. If an extension finds the
 * lock gone, or the store stays unreachable until the lease's local expiry, or (without `autoExtend`) the lease
 * simply runs out, `signal` aborts with a {@link LockLostError} reason. Nothing is thrown from a timer.
 */
export class Lock {
  /** The keys, as the caller named them. */
  readonly keys: readonly string[];
  /** Unique id of this acquisition; the store only lets this token extend or release the lock. */
  readonly token: string;
  /**
   * Strictly greater than the fencing token of every earlier acquisition of any of these keys. Pass it with
   * each write to a resource that rejects writes with a lower token than it has seen.
   */
  readonly fencingToken: number;
  /** `'read'` for a read lock; `'write'` for a mutex, a writer or a semaphore permit. */
  readonly mode: 'read' | 'write';
  /** How many may hold the key at once: the semaphore's limit, 1 for a mutex or a read-write lock. */
  readonly limit: number;

  private state: 'held' | 'released' | 'lost' = 'held';
  private currentTtl: number;
  private deadline = 0;
  private epochDeadline = 0;
  private expiryTimer?: Timer;
  private watchdogTimer?: Timer;
  private controller?: AbortController;
  private readonly autoExtend: boolean;
  private readonly minHold: number;
  private readonly share?: LockShare;
  private readonly grantedAt = clock.now();
  /** The lease ends that the extensions on their way would set, as counted here. */
  private readonly extending: number[] = [];
  /** How long the last extension took to answer, in ms. */
  private roundTrip = 0;

  /**
   * Created by `LockService` (`acquire()`, `tryAcquire()`, `using()`, `stream()`, `@Locked`); not for constructing
   * yourself.
   * @param grant what the store granted
   * @param context the creating service
   */
  constructor(
    grant: LockGrant,
    private readonly context: LockHandleContext,
  ) {
    this.keys = Object.freeze([...grant.keys]);
    this.token = grant.token;
    this.fencingToken = grant.fencingToken;
    this.currentTtl = grant.ttl;
    this.autoExtend = grant.autoExtend;
    this.minHold = grant.minHold;
    this.share = grant.share;
    ({ mode: this.mode, limit: this.limit } = shareFields(grant.share));
    this.renew(grant.startedAt, grant.lease ?? grant.ttl);
  }

  /** Local estimate of when the lease ends, in epoch ms (counted from the start of the successful attempt). */
  get expiresAt(): number {
    return this.epochDeadline;
  }

  /**
   * `clock.now()` at which the lease ends, as counted here (from the start of the attempt or extension the store
   * granted, less the store's drift allowance), or sooner while an extension that may shorten it is on its way.
   * @internal
   */
  get leaseEnd(): number {
    return Math.min(this.deadline, ...this.extending);
  }

  /** The lease, in ms, the watchdog and `extend()` renew it to: the `ttl` it was taken with, or the last `extend(ttl)`'s. */
  get ttl(): number {
    return this.currentTtl;
  }

  /** True until the lock is released, lost or its lease has run out. */
  get isHeld(): boolean {
    return this.state === 'held' && clock.now() < this.deadline;
  }

  /**
   * Aborts when the work should stop: with a {@link LockLostError} reason when the lock is lost; with a `LockError`
   * when the app starts shutting down (the lock then stays held until the work ends or the module's `shutdownTimeout`
   * passes) or, under `stream()` and `@UseLock`, when the subscription ended (a timeout, a client that went away)
   * while the work still ran (the lock then stays held until the work ends). Pass it to the work the lock protects.
   */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /**
   * Tells the work to stop while the lock stays held: aborts `signal` with `reason` (the app is shutting down, or
   * nobody waits for the work any more). A lock already lost keeps its `LockLostError` reason.
   * @param reason why
   * @internal
   */
  interrupt(reason: Error): void {
    if (this.state === 'held' && !this.controller?.signal.aborted) {
      this.controller ??= new AbortController();
      this.controller.abort(reason);
    }
  }

  /**
   * Resets the lease to `ttl` ms from now. Never re-creates a lock that is gone.
   * @param ttl new lease in ms @default the lock's current ttl
   * @throws LockLostError if the lock is no longer held (and aborts `signal`)
   * @throws LockStoreUnavailableError if the store did not answer
   */
  async extend(ttl: number = this.currentTtl): Promise<void> {
    assertLockOptions({ ttl }, TTL_OPTION, 'extend()');
    if (this.state !== 'held') {
      throw this.notHeld();
    }
    const startedAt = clock.now();
    const drift = this.context.store.drift?.(ttl) ?? 0;
    // Until the store answers, the lease may already be the new one (shorter, if `ttl` is): see `leaseEnd`.
    const pending = startedAt + ttl - drift;
    this.extending.push(pending);
    let extended: boolean;
    try {
      extended = await this.context.store.extend(this.keys, this.token, ttl, this.share);
    } finally {
      this.extending.splice(this.extending.indexOf(pending), 1);
    }
    this.roundTrip = clock.now() - startedAt;
    if (this.state !== 'held') {
      if (extended && this.state === 'lost') {
        // Its lease ran out here before the store answered, so it was reported lost; give the key back rather than
        // leave it blocking others for the lease just granted.
        void this.context.store.release(this.keys, this.token, { share: this.share }).catch(() => undefined);
      }
      throw this.notHeld();
    }
    if (!extended) {
      throw this.lose('it expired or was taken by another holder before it could be extended');
    }
    this.currentTtl = ttl;
    this.renew(startedAt, ttl - drift);
    this.context.emit({ type: 'extended', ...this.identity(), ttl });
  }

  /**
   * Releases the lock if this holder still has it. Safe to call more than once. Within `minHold` of the grant, the
   * key stays taken until `minHold` has passed, then expires.
   * @returns true if this call released it; false if it was already released, expired or taken by someone else
   * @throws LockStoreUnavailableError if the store did not answer; the release is then retried in the background
   * until the lease's local end (when it would end by itself anyway)
   */
  async release(): Promise<boolean> {
    if (this.state === 'released') {
      return false;
    }
    // A lease that ran out here is not passed on: nothing of it may outlive it in this process.
    const held = this.isHeld;
    const handOver = held ? (this.context.passOn?.(this, this.minHoldLeft()) ?? false) : false;
    this.settle(handOver === true ? 'passed' : 'released');
    if (handOver === true) {
      this.reportReleased(true);
      return true;
    }
    const released = await this.releaseInStore(handOver === 'yield', held).catch((error: unknown) => {
      if (error instanceof LockStoreUnavailableError) {
        this.retryRelease(held);
      }
      throw error;
    });
    this.reportReleased(released);
    return released;
  }

  /**
   * Releases the lock at the end of an `await using` block: `await using lock = await locks.acquire('k')`. As in
   * `using()`, a release the store does not answer is logged and retried in the background, not thrown over the
   * block's own outcome.
   */
  async [asyncDispose](): Promise<void> {
    await this.release().catch((error: unknown) => {
      this.context.logger.warn(
        `Could not release lock ${JSON.stringify(this.keys)} at the end of its await using block ` +
          `(${error instanceof Error ? error.message : String(error)}); it is retried in the background until the lease ends.`,
      );
    });
  }

  /**
   * Tries a release the store did not answer again, in the background, until the lease's local end: after a
   * blip or a failover the key is free again within a retry, not only when the lease runs out. The release is
   * token-checked, so a late one never frees a later holder's lock. A retry that finds the key no longer this
   * holder's, for a lock still held when it was first released, counts as released: the first try, unanswered, may
   * have run; either way the key was this holder's until it let go.
   * @param heldWhenReleased the lease had not run out here when the release was first sent
   */
  private retryRelease(heldWhenReleased: boolean): void {
    const retry = (): void => {
      if (clock.now() >= this.deadline || this.context.stopped.aborted) {
        return;
      }
      this.releaseInStore().then(
        (released) => this.reportReleased(released || heldWhenReleased),
        () => (this.watchdogTimer = startTimer(retry, RELEASE_RETRY_INTERVAL)),
      );
    };
    this.watchdogTimer = startTimer(retry, RELEASE_RETRY_INTERVAL);
  }

  /** The store's release, keeping the key for what is left of the minimum hold. */
  private releaseInStore(yieldTurn = false, leaseRunning = false): Promise<boolean> {
    return this.context.store.release(this.keys, this.token, {
      keepFor: this.minHoldLeft(),
      yield: yieldTurn,
      share: this.share,
      leaseRunning,
    });
  }

  private minHoldLeft(): number {
    return Math.max(0, Math.ceil(this.minHold - (clock.now() - this.grantedAt)));
  }

  private reportReleased(released: boolean): void {
    if (released) {
      this.context.emit({ type: 'released', ...this.identity(), held: clock.now() - this.grantedAt });
    }
  }

  private renew(startedAt: number, lease: number): void {
    this.deadline = startedAt + lease;
    this.epochDeadline = clock.epoch() - (clock.now() - startedAt) + lease;
    this.stopTimers();
    const left = this.deadline - clock.now();
    if (this.autoExtend) {
      // At ttl/3, and earlier when the store answers slowly: the next answer must come back before the lease ends.
      this.scheduleExtension(Math.min(this.currentTtl / 3, left / 2, left - 2 * this.roundTrip));
    } else {
      this.armExpiry();
    }
  }

  /** Reports the loss at the lease's local end, unless a renewal comes first. */
  private armExpiry(): void {
    this.expiryTimer ??= startTimer(() => this.expire(), this.deadline - clock.now());
  }

  private scheduleExtension(delay: number): void {
    this.watchdogTimer = startTimer(() => void this.watchdogTick(), delay);
  }

  private async watchdogTick(): Promise<void> {
    // Only while an extension is pending can the lease run out; the happy path keeps a single timer.
    this.armExpiry();
    try {
      await this.extend();
    } catch {
      // A lost lock was reported by extend(); an unreachable store gets retried until the lease runs out.
      if (this.state === 'held') {
        this.scheduleExtension(this.currentTtl / 6);
      }
    }
  }

  private expire(): void {
    this.lose(
      this.autoExtend
        ? `its lease of ${this.currentTtl} ms ran out before it could be extended (the store did not answer in time, or this process was paused)`
        : `its lease of ${this.currentTtl} ms ran out (autoExtend is off)`,
    );
  }

  private lose(detail: string): LockLostError {
    const error = new LockLostError(this.keys, detail);
    if (this.state === 'held') {
      this.settle('lost');
      this.context.logger.warn(error.message);
      this.controller ??= new AbortController();
      this.controller.abort(error);
      this.context.emit({ type: 'lost', ...this.identity(), held: clock.now() - this.grantedAt, reason: error });
    }
    return error;
  }

  private identity(): { keys: readonly string[]; token: string; fencingToken: number; mode: 'read' | 'write'; limit: number } {
    return { keys: this.keys, token: this.token, fencingToken: this.fencingToken, mode: this.mode, limit: this.limit };
  }

  private notHeld(): LockLostError {
    const reason: unknown = this.controller?.signal.reason;
    return reason instanceof LockLostError ? reason : new LockLostError(this.keys, 'it was already released');
  }

  private settle(state: 'passed' | 'released' | 'lost'): void {
    const wasHeld = this.state === 'held';
    this.state = state === 'lost' ? 'lost' : 'released';
    this.stopTimers();
    if (wasHeld) {
      this.context.settled(this, state);
    }
  }

  private stopTimers(): void {
    this.expiryTimer?.clear();
    this.watchdogTimer?.clear();
    this.expiryTimer = undefined;
  }
}

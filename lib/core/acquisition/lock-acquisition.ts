import { randomUUID } from 'node:crypto';
import { clock } from '../../utils/clock.util.js';
import { LockStoreUnavailableError } from '../../errors/index.js';
import { MIN_WAITER_PLACE } from '../../lock.constants.js';
import type { LockReleaseWatch, LockShare, LockStore, LockStoreAcquireResult, LockStoreGrant } from '../../interfaces/index.js';
import { shareCapacity, shareTag } from '../../utils/lock-share.util.js';
import type { ResolvedLockOptions } from '../../options/lock-options.validator.js';
import { pause, settleWithin } from '../../utils/timer.util.js';
import type { Lock } from '../lock.js';
import type { LocalPass } from './cohort.js';
import type { LocalQueue, LocalTurn } from './local-queue.js';

/** Pause between attempts while the store is unreachable (there is no release to wait for). */
const UNAVAILABLE_RETRY_DELAY = 100;

const NEVER = new Promise<never>(() => undefined);

/** What an acquisition needs from the service that runs it. */
export interface AcquisitionContext {
  readonly store: LockStore;
  readonly queue: LocalQueue;
  /** What this app's tokens start with (`app@host:pid/`), so an operator can tell who holds a lock. */
  readonly holder: string;
  /** The longest one store call may take (the module's `commandTimeout`): a wait ends by its deadline plus this. */
  readonly commandTimeout: number;
  /**
   * Creates the handle of a lock the store granted.
   * @param startedAt `clock.now()` from which its lease is counted
   */
  grant(
    keys: readonly string[],
    token: string,
    granted: LockStoreGrant,
    options: ResolvedLockOptions,
    startedAt: number,
    askedAt: number,
    contended: boolean,
  ): Lock;
  /**
   * Creates the handle of a lock passed on by the caller before, inside this process, with what is left of its
   * lease (renewed first if too little is left).
   * @returns undefined when the pass cannot be used: the store must be asked
   */
  receive(pass: LocalPass, options: ResolvedLockOptions, askedAt: number): Promise<Lock | undefined>;
  /** The error for a lock that stayed busy since `askedAt` (and its event). */
  busy(keys: readonly string[], askedAt: number, share: LockShare | undefined): Error;
}

/** One attempt's outcome, as the wait loop sees it: a store that did not answer is a reason to retry. */
type AttemptOutcome = LockStoreAcquireResult & { unavailable?: LockStoreUnavailableError };

/**
 * One caller's way to a lock: attempts, the wait between them (woken by releases, bounded by the holder's lease
 * and the caller's deadline), the hand-off checks, and the way out of the store's queue if it gives up.
 */
export class LockAcquisition {
  private readonly token: string;
  private readonly started = clock.now();
  private readonly deadline: number;
  /** How long, in ms, this caller's place in the store's queue lasts unless it asks again. */
  private readonly place: number;
  private watch?: LockReleaseWatch;
  /** The store's last refusal named this fencing token: hand-offs at or below it are stale. */
  private lastFencingToken = 0;
  /** `clock.now()` when the latest refused attempt started; a valid hand-off happened after it. */
  private refusedAt?: number;
  /** Some attempt may have queued the caller or taken keys: leave (by token) if the wait fails. */
  private leaveOnExit = false;
  /** `clock.now()` when the caller's signal aborted: the wait's end, if before its deadline. */
  private abortedAt?: number;

  /**
   * @param context the service
   * @param keys the keys, all or nothing
   * @param options the resolved options
   * @param waitTimeout how long to wait, in ms (0 tries once)
   * @param signal ends the wait early
   */
  constructor(
    private readonly context: AcquisitionContext,
    private readonly keys: string[],
    private readonly options: ResolvedLockOptions,
    waitTimeout: number,
    private readonly signal: AbortSignal,
  ) {
    this.deadline = this.started + waitTimeout;
    this.place = Math.max(options.ttl, MIN_WAITER_PLACE);
    this.token = context.holder + randomUUID();
  }

  /** Takes the lock, waiting up to the deadline. */
  async run(): Promise<Lock> {
    this.signal.throwIfAborted();
    const onAbort = (): void => {
      this.abortedAt = clock.now();
    };
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.queueAndTake();
    } finally {
      this.signal.removeEventListener('abort', onAbort);
    }
  }

  private async queueAndTake(): Promise<Lock> {
    const { share } = this.options;
    // Readers do not queue in the process: any number of them may hold the key. A semaphore's permits do, `limit` wide.
    const waits = this.keys.length === 1 && this.deadline > this.started && share?.mode !== 'read';
    const turn = waits
      ? await this.context.queue.turn(
          share ? `${this.keys[0]}\u0000${shareTag(share)}` : this.keys[0],
          this.deadline,
          this.signal,
          () => this.busy(),
          shareCapacity(shareTag(share)),
        )
      : undefined;
    try {
      const passed = share || this.keys.length > 1 ? undefined : await this.takeFromProcess(turn);
      if (passed) {
        return await this.granted(passed);
      }
      // Listening before the first attempt is free when the channel is subscribed already (a contended key).
      this.watch = this.context.store.watch?.(this.keys, this.token, true);
      return await this.attemptUntilGranted();
    } catch (error) {
      if (this.leaveOnExit) {
        await this.cleanUp(this.context.store.leave?.(this.keys, this.token, this.options.ttl, share));
      }
      throw error;
    } finally {
      this.watch?.close();
      turn?.done();
    }
  }

  private async attemptUntilGranted(): Promise<Lock> {
    let unavailable: LockStoreUnavailableError | undefined;
    for (let first = true; ; first = false) {
      const attemptStarted = clock.now();
      // A wait that reached its deadline asks once more, without queueing: a release or hand-off it was not told
      // of (a lost message, a key gone without one) is found now rather than never.
      const last = !first && attemptStarted >= this.deadline;
      const wait = last ? 0 : storeWait(Math.min(this.deadline - attemptStarted, this.place));
      const outcome = await this.attempt(wait);
      if (outcome.acquired) {
        return this.grant(outcome, attemptStarted);
      }
      unavailable = outcome.unavailable;
      this.record(outcome, attemptStarted);
      const remaining = this.deadline - clock.now();
      if (last || remaining <= 0 || this.signal.aborted) {
        this.signal.throwIfAborted();
        throw unavailable ?? this.busy();
      }
      const handedOver = await this.waitForRelease(outcome, remaining);
      if (handedOver !== undefined) {
        return this.grant(handedOver.grant, handedOver.since);
      }
      // Aborted while it waited: another attempt would queue the caller again only to leave at once.
      this.signal.throwIfAborted();
    }
  }

  /**
   * Sleeps until something may have changed: a pause while the store is unreachable, the subscription's set-up,
   * or a release (bounded by the holder's lease: an expiry publishes nothing).
   * @returns a hand-off that can be used as it is; any other is confirmed (or found stale) by the next attempt
   */
  private async waitForRelease(outcome: AttemptOutcome, remaining: number): Promise<{ grant: LockStoreGrant; since: number } | undefined> {
    if (outcome.unavailable) {
      await pause(Math.min(remaining, UNAVAILABLE_RETRY_DELAY), this.signal);
      return undefined;
    }
    if (!this.watch && this.context.store.watch) {
      // Subscribe first, then retry: a release between the failed attempt and the wait cannot be missed.
      this.watch = this.context.store.watch(this.keys, this.token);
      await settleWithin(this.watch?.ready ?? NEVER, remaining, this.signal);
      return undefined;
    }
    const retryAfter = outcome.acquired ? undefined : outcome.retryAfter;
    // A place in the store's queue lasts `place` unless the caller asks again: a live waiter keeps it.
    const recheck = Math.min(remaining, this.place / 2, retryAfter === undefined ? Number.POSITIVE_INFINITY : retryAfter + 1);
    const grant = await (this.watch ? this.watch.next(recheck, this.signal) : pause(recheck, this.signal));
    const since = grant && !this.signal.aborted ? this.handOffStart(grant) : undefined;
    return grant && since !== undefined ? { grant, since } : undefined;
  }

  /** A store that did not answer is a reason to try again while the wait lasts; after its deadline it is the outcome. */
  private mayRetry(error: unknown): error is LockStoreUnavailableError {
    return error instanceof LockStoreUnavailableError && this.deadline > clock.now();
  }

  private async attempt(wait: number): Promise<AttemptOutcome> {
    // An attempt that may wait can queue the caller, or take the key, even if its answer never comes back.
    this.leaveOnExit ||= wait > 0;
    try {
      return await this.context.store.acquire(this.keys, this.token, this.options.ttl, wait, this.options.share);
    } catch (error) {
      this.leaveOnExit ||= error instanceof LockStoreUnavailableError;
      if (this.mayRetry(error)) {
        return { acquired: false, unavailable: error };
      }
      throw error;
    }
  }

  private record(outcome: AttemptOutcome, startedAt: number): void {
    if (!outcome.unavailable && !outcome.acquired) {
      this.refusedAt = startedAt;
      this.lastFencingToken = Math.max(this.lastFencingToken, outcome.lastFencingToken ?? 0);
    }
  }

  /**
   * When the lease of a hand-off may be counted from, if the hand-off can be used as it is: it is newer than the
   * last refusal, needs no confirmation, and, counted from that refusal (the earliest it can have been made),
   * still has at least half its lease; without a watchdog, its lease must also be the full ttl (a hand-off's is
   * capped at the waiter's deadline). Otherwise undefined: the next attempt confirms it (renewing the lease to the
   * ttl) or finds it stale.
   */
  private handOffStart(grant: LockStoreGrant): number | undefined {
    if (grant.confirm || this.refusedAt === undefined || grant.fencingToken <= this.lastFencingToken) {
      return undefined;
    }
    const { ttl, autoExtend } = this.options;
    const lease = Math.min(ttl, grant.lease ?? ttl);
    if (!autoExtend && lease < ttl) {
      return undefined;
    }
    return this.refusedAt + lease - clock.now() >= lease / 2 ? this.refusedAt : undefined;
  }

  /**
   * The lock from this process: a lease parked for its next caller, or, while the process holds the key and this
   * caller heads its queue, the lock passed on by the holder. A pass that arrives is taken whatever else happened
   * (the holder has let go of it; a cancelled caller lets go of it in turn).
   * @returns the lock, or undefined when the store must be asked
   */
  private async takeFromProcess(turn: LocalTurn | undefined): Promise<Lock | undefined> {
    const pass = turn ? await turn.awaitPass(this.deadline - clock.now(), this.signal) : this.context.queue.takeParked(this.keys[0]);
    const lock =
      pass &&
      (await this.context.receive(pass, this.options, this.started).catch((error: unknown) => {
        if (this.mayRetry(error)) {
          return undefined;
        }
        throw error;
      }));
    if (lock) {
      return lock;
    }
    this.signal.throwIfAborted();
    if (turn && clock.now() >= this.deadline) {
      throw this.busy();
    }
    return undefined;
  }

  private async grant(granted: LockStoreGrant, startedAt: number): Promise<Lock> {
    if (this.signal.aborted) {
      // Cancelled while the winning attempt (or hand-off) was on its way: the key goes straight back to the store (the
      // grant took it out of the queue already). Made into a Lock first, its release could pass it to this process's next caller, and the way out of the
      // queue (by token) would then free the key under that caller.
      await this.cleanUp(this.context.store.release(this.keys, this.token, { share: this.options.share }));
      this.signal.throwIfAborted();
    }
    // Granted after the store refused it at least once: the key is contended.
    const contended = this.refusedAt !== undefined;
    return this.granted(this.context.grant(this.keys, this.token, granted, this.options, startedAt, this.started, contended));
  }

  private async granted(lock: Lock): Promise<Lock> {
    if (this.signal.aborted) {
      // Cancelled while the winning attempt was in flight: give the lock straight back.
      await this.cleanUp(lock.release());
      this.signal.throwIfAborted();
    }
    return lock;
  }

  /**
   * Waits for a give-back (a leave, a release) until the wait's end (its deadline, or its abort if sooner) plus one
   * store call: one the store is slow to answer (a paused Redis) goes on without the caller; it is token-checked and
   * sent behind this wait's own commands.
   */
  private async cleanUp(giveBack: Promise<unknown> | undefined): Promise<void> {
    const end = Math.min(this.deadline, this.abortedAt ?? Number.POSITIVE_INFINITY);
    const due = Math.max(end, this.started) + this.context.commandTimeout;
    await settleWithin(giveBack?.catch(() => undefined) ?? Promise.resolve(), Math.max(0, due - clock.now()));
  }

  private busy(): Error {
    return this.context.busy(this.keys, this.started, this.options.share);
  }
}

/** The wait to tell the store: whole ms, and a finite number for a wait without end. */
function storeWait(ms: number): number {
  return Math.max(0, Math.floor(Math.min(ms, Number.MAX_SAFE_INTEGER)));
}

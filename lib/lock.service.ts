import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { finalize, isObservable, Subject, type Observable } from 'rxjs';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';
import { pause, settleWithin } from './utils/timer.util.js';
import { LOCK_MODULE_OPTIONS } from './lock.constants.js';
import { InvalidLockOptionsError, LockError, LockLostError, LockNotAcquiredError, LockStoreUnavailableError } from './errors/index.js';
import { LockStore, type LockEvent, type LockKey, type LockOptions, type LockStoreGrant } from './interfaces/index.js';
import { Lock } from './lock.handle.js';
import { createLockLogger, type LockLogger } from './lock.logger.js';
import {
  normalizeLockKeys,
  resolveLockOptions,
  type ResolvedLockModuleOptions,
  type ResolvedLockOptions,
} from './lock-options.validator.js';

/** One lock held by a call chain, with how many nested holders are inside it. */
interface Hold {
  readonly lock: Lock;
  count: number;
}

/** @internal A lock entered by a call chain: run work inside it, then leave it once. */
export interface LockEntry {
  /** The lock the caller asked for (for re-entry, the one the chain holds). */
  readonly lock: Lock;
  /** Runs `fn` with the lock visible to `current()` and re-entrant for nested calls. */
  run<T>(fn: () => T): T;
  /**
   * Leaves the lock; the outermost holder's exit releases it. Never rejects: the work is done by then, so a release
   * that fails is logged (and retried in the background by the lock) instead of failing the work.
   */
  exit(): Promise<void>;
}

/** A caller of this process waiting for its turn at one key; `wake` is set once it has someone before it. */
interface LocalWaiter {
  wake?: () => void;
}

/** Pause between attempts while the store is unreachable (there is no release to wait for). */
const UNAVAILABLE_RETRY_DELAY = 100;

/**
 * The locks each call chain holds, per LockService. One storage for the whole process, not one per service: in
 * Node 20 every AsyncLocalStorage ever used costs each promise of the process, so one per app made a process that
 * creates and closes apps (test suites, hot reload) slower with every app.
 */
const CALL_CHAINS = new AsyncLocalStorage<ReadonlyMap<LockService, ReadonlyMap<string, Hold>>>();

/**
 * Takes, checks and releases locks by hand. Inject it anywhere once `LockModule` is imported.
 */
@Injectable()
export class LockService implements OnApplicationShutdown {
  private readonly logger: LockLogger;
  private readonly held = new Set<Lock>();
  private readonly shutdown = new AbortController();
  private readonly defaults: ResolvedLockOptions;
  private readonly localQueues = new Map<string, LocalWaiter[]>();
  private readonly eventSubject = new Subject<LockEvent>();
  /** Acquisitions in progress. */
  private readonly taking = new Set<Promise<Lock>>();

  /**
   * Everything that happens to this app's locks: acquired (with the wait), busy, extended, released (with the hold
   * time), lost. Completes on shutdown. Subscribe for metrics, traces or your own logs.
   */
  readonly events: Observable<LockEvent> = this.eventSubject.asObservable();

  constructor(
    @Inject(LOCK_MODULE_OPTIONS) private readonly options: ResolvedLockModuleOptions,
    @Inject(LockStore) private readonly store: LockStore,
  ) {
    this.logger = createLockLogger(LockService.name, options.logger);
    // Every waiting caller listens to it; hundreds of waiters are normal, not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.defaults = { ttl: options.ttl, waitTimeout: options.waitTimeout, autoExtend: options.autoExtend, minHold: 0 };
  }

  /**
   * Takes the lock, waiting up to `waitTimeout` ms while it is busy.
   * @param key a key, or several keys taken together (all or nothing)
   * @param options per-call `ttl`, `waitTimeout`, `autoExtend`, `minHold`, `signal`
   * @throws LockNotAcquiredError if it stayed busy for the whole wait
   * @throws LockStoreUnavailableError if the store could not be reached until the wait ended
   * @throws InvalidLockOptionsError for a bad key or option, before anything reaches the store
   */
  async acquire(key: LockKey, options?: LockOptions): Promise<Lock> {
    const keys = normalizeLockKeys(key);
    const resolved = resolveLockOptions(options, this.defaults);
    return this.take(keys, resolved, resolved.waitTimeout);
  }

  /**
   * Makes one attempt to take the lock, without waiting.
   * @param key a key, or several keys taken together
   * @param options per-call `ttl`, `autoExtend`
   * @returns the lock, or `null` if it is busy
   * @throws LockStoreUnavailableError if the store could not be reached
   */
  async tryAcquire(key: LockKey, options?: LockOptions): Promise<Lock | null> {
    const keys = normalizeLockKeys(key);
    const resolved = resolveLockOptions(options, this.defaults);
    try {
      return await this.take(keys, resolved, 0);
    } catch (error) {
      if (error instanceof LockNotAcquiredError) {
        return null;
      }
      throw error;
    }
  }

  /**
   * Takes the lock, runs `fn` with the watchdog on, and releases the lock afterwards, whatever happens.
   * Once `fn` has run, the call settles with `fn`'s outcome: a release that fails is logged and retried in the
   * background, never thrown (the work is done; a retry of the call would repeat it). A lock lost during `fn`
   * is reported through `lock.signal`, not by rejecting.
   * @param key a key, or several keys taken together
   * @param fn the work; it gets the lock (watch `lock.signal`, pass `lock.fencingToken` to your writes)
   * @param options per-call options; `autoExtend` defaults to true here
   * @returns what `fn` returns
   */
  async using<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options?: LockOptions): Promise<T> {
    const keys = normalizeLockKeys(key);
    if (typeof fn !== 'function') {
      throw new InvalidLockOptionsError(`using() needs a function as its second argument, got ${typeof fn}.`);
    }
    const resolved = resolveLockOptions(options, { ...this.defaults, autoExtend: true });
    return this.runExclusive(keys, resolved, fn);
  }

  /**
   * The lock held by the current call chain (inside `using()` or a `@Locked` method), so the work can pass
   * `signal` to its own I/O and `fencingToken` to its writes.
   * @param key the key to look up; without it, the innermost lock
   * @returns the lock, or `undefined` outside a lock (or if the chain does not hold `key`)
   */
  current(key?: string): Lock | undefined {
    const chain = this.chain();
    if (key !== undefined) {
      return chain?.get(key)?.lock;
    }
    return chain ? [...chain.values()].pop()?.lock : undefined;
  }

  /**
   * @internal Runs `fn` inside the lock of `keys` for the current call chain: re-entrant, released after `fn`
   * settles (by the outermost holder). Settles with `fn`'s outcome, whatever the release does.
   */
  async runExclusive<T>(keys: string[], options: ResolvedLockOptions, fn: (lock: Lock) => T | Promise<T>): Promise<T> {
    const entry = await this.enter(keys, options);
    let result: T;
    try {
      result = await entry.run(() => fn(entry.lock));
    } catch (error) {
      await entry.exit();
      throw error;
    }
    if (isObservable(result)) {
      // The work goes on for as long as the stream does: hold the lock until it ends.
      return this.holdUntilFinalized(result, entry) as T;
    }
    await entry.exit();
    return result;
  }

  /** @internal Mirrors `source`, leaving the lock when it completes, errors or is unsubscribed. */
  holdUntilFinalized<V>(source: Observable<V>, entry: LockEntry): Observable<V> {
    return source.pipe(finalize(() => void entry.exit()));
  }

  /** @internal Options of a `@Locked` call: the decoration's, then the module's; `skip` does not wait by default. */
  resolveLocked(spec: { options: LockOptions; onBusy: 'throw' | 'skip' }): ResolvedLockOptions {
    const waitTimeout = spec.options.waitTimeout ?? (spec.onBusy === 'skip' ? 0 : this.defaults.waitTimeout);
    return resolveLockOptions({ ...spec.options, waitTimeout }, { ...this.defaults, autoExtend: true });
  }

  /** @internal Logs a debug line in this service's context. */
  debug(message: string): void {
    this.logger.debug(message);
  }

  /** The locks the current call chain holds in this app. */
  private chain(): ReadonlyMap<string, Hold> | undefined {
    return CALL_CHAINS.getStore()?.get(this);
  }

  /**
   * @internal Takes the keys the current call chain does not hold yet (waiting as `options` say) and returns
   * how to run inside the lock and how to leave it. Keys the chain holds are re-entered (hold count).
   */
  async enter(keys: string[], options: ResolvedLockOptions): Promise<LockEntry> {
    const chain = this.chain();
    const reentered = new Set<Hold>();
    for (const key of keys) {
      const hold = chain?.get(key);
      if (hold && !hold.lock.isHeld) {
        throw hold.lock.signal.reason instanceof LockLostError
          ? hold.lock.signal.reason
          : new LockLostError(hold.lock.keys, 'it is no longer held by this call chain');
      }
      if (hold) {
        reentered.add(hold);
      }
    }
    const missing = keys.filter((key) => !chain?.has(key));
    const context = new Map(chain);
    const holds = [...reentered];
    if (missing.length > 0) {
      const fresh: Hold = { lock: await this.take(missing, options, options.waitTimeout), count: 0 };
      missing.forEach((key) => context.set(key, fresh));
      holds.push(fresh);
    }
    holds.forEach((hold) => (hold.count += 1));
    let exited = false;
    return {
      lock: (context.get(missing[0] ?? keys[0]) as Hold).lock,
      run: (fn) => CALL_CHAINS.run(new Map(CALL_CHAINS.getStore()).set(this, context), fn),
      exit: async () => {
        if (exited) {
          return;
        }
        exited = true;
        const released = holds.filter((hold) => (hold.count -= 1) === 0).map((hold) => this.releaseAfterWork(hold.lock));
        await Promise.all(released);
      },
    };
  }

  private async releaseAfterWork(lock: Lock): Promise<void> {
    await lock.release().catch((error: unknown) => {
      this.logger.warn(
        `Could not release lock ${JSON.stringify(lock.keys)} after its work ended (${error instanceof Error ? error.message : String(error)}); ` +
          `the work's outcome stands, and the release is retried in the background until the lease ends.`,
      );
    });
  }

  /**
   * Whether anyone holds the lock (any of the keys) right now.
   * @param key a key, or several keys
   */
  async isLocked(key: LockKey): Promise<boolean> {
    return this.store.isLocked(normalizeLockKeys(key));
  }

  /** Stops waiting callers, releases the locks this app still holds, and closes the store if the module made it. */
  async onApplicationShutdown(): Promise<void> {
    this.shutdown.abort(new LockError('The application is shutting down; no more locks are handed out.'));
    // Aborted waiters leave the Redis queues on their way out: let them, before the connection closes.
    await settleWithin(Promise.allSettled([...this.taking]), this.options.commandTimeout);
    const held = [...this.held];
    await Promise.allSettled(held.map((lock) => lock.release()));
    if (held.length > 0) {
      this.logger.log(`Released ${held.length} lock(s) on shutdown.`);
    }
    this.eventSubject.complete();
    if (this.options.ownsStore) {
      await this.store.close?.();
    }
  }

  /** Takes the lock for a new token, waiting up to `waitTimeout` ms; shutdown waits for the way out of the queue. */
  private take(keys: string[], options: ResolvedLockOptions, waitTimeout: number): Promise<Lock> {
    const taking = this.waitForGrant(keys, options, waitTimeout);
    this.taking.add(taking);
    const settled = (): void => void this.taking.delete(taking);
    taking.then(settled, settled);
    return taking;
  }

  private async waitForGrant(keys: string[], options: ResolvedLockOptions, waitTimeout: number): Promise<Lock> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.shutdown.signal]) : this.shutdown.signal;
    signal.throwIfAborted();
    const token = randomUUID();
    const started = performance.now();
    const deadline = started + waitTimeout;
    const turn = keys.length === 1 && waitTimeout > 0 ? await this.localTurn(keys[0], started, deadline, signal) : undefined;
    // Listening before the first attempt is free when the channel is subscribed already (a contended key).
    let watch = this.store.watch?.(keys, token, true);
    const trail = new AttemptTrail();
    try {
      for (let first = true; ; first = false) {
        const attemptStarted = performance.now();
        if (!first && attemptStarted >= deadline) {
          throw trail.unavailable ?? this.busy(keys, started);
        }
        const wait = storeWait(deadline - attemptStarted);
        const outcome = await this.attempt(keys, token, options.ttl, wait, deadline);
        if (outcome.acquired) {
          return await this.grant(keys, token, outcome, options, attemptStarted, signal, started);
        }
        trail.record(outcome, attemptStarted, wait);
        const remaining = deadline - performance.now();
        if (remaining <= 0 || signal.aborted) {
          signal.throwIfAborted();
          throw outcome.unavailable ?? this.busy(keys, started);
        }
        if (outcome.unavailable) {
          await pause(Math.min(remaining, UNAVAILABLE_RETRY_DELAY), signal);
        } else if (!watch && this.store.watch) {
          // Subscribe first, then retry: a release between the failed attempt and the wait cannot be missed.
          watch = this.store.watch(keys, token);
          await settleWithin(watch?.ready ?? NEVER, remaining, signal);
        } else {
          // A lock can also end by expiry, which sends no message: re-check when the holder's lease ends.
          const recheck = outcome.retryAfter === undefined ? remaining : Math.min(remaining, outcome.retryAfter + 1);
          const handedOver = await (watch ? watch.next(recheck, signal) : pause(recheck, signal));
          const since = handedOver && !signal.aborted ? trail.handOffStart(handedOver, options) : undefined;
          if (since !== undefined) {
            return await this.grant(keys, token, handedOver as LockStoreGrant, options, since, signal, started);
          }
          // Any other hand-off is confirmed (or found stale) by the next attempt.
        }
      }
    } catch (error) {
      if (trail.leaveOnExit) {
        await this.store.leave?.(keys, token, options.ttl).catch(() => undefined);
      }
      throw error;
    } finally {
      watch?.close();
      turn?.done();
    }
  }

  /**
   * Waits until every earlier caller of this process waiting for `key` is done, so that at most one waiter per
   * key and process talks to the store, in arrival order.
   */
  private async localTurn(key: string, started: number, deadline: number, signal: AbortSignal): Promise<{ done(): void }> {
    const queue = this.localQueues.get(key) ?? [];
    this.localQueues.set(key, queue);
    const me: LocalWaiter = {};
    queue.push(me);
    const done = (): void => {
      const index = queue.indexOf(me);
      queue.splice(index, 1);
      if (index === 0) {
        queue[0]?.wake?.();
      }
      if (queue.length === 0 && this.localQueues.get(key) === queue) {
        this.localQueues.delete(key);
      }
    };
    if (queue.length > 1) {
      await settleWithin(new Promise<void>((resolve) => (me.wake = resolve)), deadline - performance.now(), signal);
      if (queue[0] !== me) {
        done();
        signal.throwIfAborted();
        throw this.busy([key], started);
      }
    }
    return { done };
  }

  private async attempt(
    keys: string[],
    token: string,
    ttl: number,
    wait: number,
    deadline: number,
  ): Promise<
    | { acquired: true; fencingToken: number; unavailable?: undefined }
    | { acquired: false; retryAfter?: number; lastFencingToken?: number; unavailable?: LockStoreUnavailableError }
  > {
    try {
      return await this.store.acquire(keys, token, ttl, wait);
    } catch (error) {
      if (error instanceof LockStoreUnavailableError && deadline > performance.now()) {
        return { acquired: false, unavailable: error };
      }
      throw error;
    }
  }

  private async grant(
    keys: string[],
    token: string,
    granted: LockStoreGrant,
    options: ResolvedLockOptions,
    startedAt: number,
    signal: AbortSignal,
    askedAt: number,
  ): Promise<Lock> {
    const lock = new Lock(
      {
        keys,
        token,
        fencingToken: granted.fencingToken,
        ttl: options.ttl,
        lease: Math.min(options.ttl, granted.lease ?? options.ttl),
        autoExtend: options.autoExtend,
        minHold: options.minHold,
        startedAt,
      },
      {
        store: this.store,
        logger: this.logger,
        settled: (settled) => this.held.delete(settled),
        emit: (event) => this.eventSubject.next(event),
        stopped: this.shutdown.signal,
      },
    );
    this.held.add(lock);
    this.eventSubject.next({ type: 'acquired', keys, token, fencingToken: granted.fencingToken, waited: performance.now() - askedAt });
    if (signal.aborted) {
      // Cancelled while the winning attempt was in flight: give the lock straight back.
      await lock.release().catch(() => undefined);
      signal.throwIfAborted();
    }
    return lock;
  }

  private busy(keys: readonly string[], started: number): LockNotAcquiredError {
    const waited = performance.now() - started;
    this.eventSubject.next({ type: 'busy', keys, waited });
    return new LockNotAcquiredError(keys, waited);
  }
}

/** The waiting caller's record of its attempts: what a hand-off must be newer than, and what to clean up. */
class AttemptTrail {
  /** The store's last refusal named this fencing token: hand-offs at or below it are stale. */
  lastFencingToken = 0;
  /** `performance.now()` when the latest refused attempt started; a valid hand-off happened after it. */
  refusedAt?: number;
  /** The last attempt went unanswered. */
  unavailable?: LockStoreUnavailableError;
  /** Some attempt may have queued the caller or taken keys: leave (by token) if the wait fails. */
  leaveOnExit = false;

  record(outcome: { retryAfter?: number; lastFencingToken?: number; unavailable?: LockStoreUnavailableError }, startedAt: number, wait: number): void {
    this.unavailable = outcome.unavailable;
    this.leaveOnExit ||= wait > 0 || outcome.unavailable !== undefined;
    if (!outcome.unavailable) {
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
  handOffStart(grant: LockStoreGrant, options: { ttl: number; autoExtend: boolean }): number | undefined {
    if (grant.confirm || this.refusedAt === undefined || grant.fencingToken <= this.lastFencingToken) {
      return undefined;
    }
    const lease = Math.min(options.ttl, grant.lease ?? options.ttl);
    if (!options.autoExtend && lease < options.ttl) {
      return undefined;
    }
    return this.refusedAt + lease - performance.now() >= lease / 2 ? this.refusedAt : undefined;
  }
}

/** The wait to tell the store: whole ms, and a finite number for a wait without end. */
function storeWait(ms: number): number {
  return Math.max(0, Math.floor(Math.min(ms, Number.MAX_SAFE_INTEGER)));
}

const NEVER = new Promise<never>(() => undefined);

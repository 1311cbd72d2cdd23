import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { from, isObservable, Observable, Subject, finalize, tap, type ObservableInput, type Subscription } from 'rxjs';
import { clock } from '../utils/clock.util.js';
import { setMaxListeners } from 'node:events';
import { LOCK_MODULE_OPTIONS } from '../lock.constants.js';
import { InvalidLockOptionsError, LockError, LockNotAcquiredError, LockStoreUnavailableError } from '../errors/index.js';
import {
  LockStore,
  type LockEvent,
  type LockKey,
  type LockOptions,
  type LockShare,
  type LockStoreGrant,
  type UsingOptions,
} from '../interfaces/index.js';
import { createLockLogger, type LockLogger } from '../lock.logger.js';
import { normalizeLockKeys } from '../options/lock-key.validator.js';
import type { ResolvedLockModuleOptions } from '../options/lock-module-options.resolver.js';
import { resolveLockOptions, USING_OPTION_NAMES, type ResolvedLockOptions } from '../options/lock-options.validator.js';
import { settleWithin, startTimer, type Timer } from '../utils/timer.util.js';
import { shareFields } from '../utils/lock-share.util.js';
import { CallChain, type LockEntry } from './call-chain.js';
import { isPromiseLike } from '../utils/promise-like.util.js';
import type { Cohort, LocalPass } from './acquisition/cohort.js';
import { LocalHandOff } from './acquisition/local-hand-off.js';
import { LocalQueue } from './acquisition/local-queue.js';
import { LockAcquisition, type AcquisitionContext } from './acquisition/lock-acquisition.js';
import { LockFailureLog } from './lock-failure.log.js';
import { Lock } from './lock.js';
import { LeaderElections } from '../leader/leader-elections.js';
import type { LeaderOptions, Leadership } from '../leader/leadership.interface.js';
import { verifyLockStore } from './lock-store.verifier.js';
import { formatKeys } from '../utils/lock-keys.util.js';

/**
 * Takes, checks and releases locks by hand. Inject it anywhere once `LockModule` is imported.
 */
@Injectable()
export class LockService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  /**
   * Everything that happens to this app's locks: acquired (with the wait), busy, extended, released (with the hold
   * time), lost. Completes on shutdown. Subscribe for metrics, traces or your own logs.
   */
  readonly events: Observable<LockEvent>;

  private readonly logger: LockLogger;
  private readonly held = new Set<Lock>();
  private readonly shutdown = new AbortController();
  /** Aborted when the app starts closing: the work under this app's locks is told to stop. */
  private readonly closing = new AbortController();
  private readonly defaults: ResolvedLockOptions;
  private readonly eventSubject = new Subject<LockEvent>();
  private readonly chain = new CallChain(this, (lock) => this.releaseAfterWork(lock));
  /** Acquisitions in progress: shutdown lets them leave the store's queues. */
  private readonly taking = new Set<Promise<Lock>>();
  private readonly acquisitions: AcquisitionContext;
  private readonly handOff: LocalHandOff;
  private readonly failures: LockFailureLog;
  /**
   * This app's leader elections (`elect()`, `@LeaderOnly`).
   * @internal
   */
  readonly elections: LeaderElections;

  constructor(
    @Inject(LOCK_MODULE_OPTIONS) private readonly options: ResolvedLockModuleOptions,
    @Inject(LockStore) private readonly store: LockStore,
  ) {
    this.logger = createLockLogger(LockService.name, options.logger);
    this.failures = new LockFailureLog(this.logger);
    this.events = this.eventSubject.asObservable();
    // Every waiting caller listens to it; hundreds of waiters are normal, not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.defaults = { ttl: options.ttl, waitTimeout: options.waitTimeout, autoExtend: options.autoExtend, minHold: 0 };
    const queue = new LocalQueue();
    this.handOff = new LocalHandOff({ store, queue, bounds: options.cohort, stopped: this.shutdown.signal });
    this.acquisitions = {
      store,
      holder: options.holder,
      commandTimeout: options.commandTimeout,
      queue,
      grant: (keys, token, granted, resolved, startedAt, askedAt, contended) =>
        this.grant(
          keys,
          token,
          granted,
          resolved,
          startedAt,
          askedAt,
          this.handOff.cohortOf(keys, token, granted, startedAt, contended, resolved.share),
        ),
      receive: (pass, resolved, askedAt) => this.receive(pass, resolved, askedAt),
      busy: (keys, askedAt, share) => this.busy(keys, askedAt, share),
    };
    this.elections = new LeaderElections({
      acquire: (key, lockOptions) => this.acquire(key, lockOptions),
      store,
      self: options.holder.slice(0, -1),
      logger: createLockLogger('LeaderElection', options.logger),
      emit: (event) => this.eventSubject.next(event),
    });
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
    return this.take(keys, resolved);
  }

  /**
   * Makes one attempt to take the lock, without waiting.
   * @param key a key, or several keys taken together
   * @param options per-call `ttl`, `autoExtend`, `minHold`
   * @returns the lock, or `null` if it is busy
   * @throws LockStoreUnavailableError if the store could not be reached
   */
  async tryAcquire(key: LockKey, options?: LockOptions): Promise<Lock | null> {
    const keys = normalizeLockKeys(key);
    const resolved = resolveLockOptions(options, this.defaults);
    try {
      return await this.take(keys, { ...resolved, waitTimeout: 0 });
    } catch (error) {
      if (error instanceof LockNotAcquiredError) {
        return null;
      }
      throw error;
    }
  }

  /**
   * Takes the lock, runs `fn` with the watchdog on, and releases the lock afterwards, whatever happens.
   * Re-entrant: inside a call chain that holds the key, `fn` runs straight through. If `fn` returns an Observable,
   * the lock is held until it ends.
   *
   * Once `fn` has run, the call settles with `fn`'s outcome: a release that fails is logged and retried in the
   * background, never thrown (the work is done; a retry of the call would repeat it). A lock lost during `fn` is
   * reported through `lock.signal`, not by rejecting.
   * @param key a key, or several keys taken together
   * @param fn the work; it gets the lock (watch `lock.signal`, pass `lock.fencingToken` to your writes)
   * @param options per-call options; `autoExtend` defaults to true here; `onBusy: 'skip'` settles with
   * `undefined` instead of rejecting when the lock stays busy
   * @returns what `fn` returns
   */
  using<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options?: UsingOptions & { onBusy?: 'throw' }): Promise<T>;
  using<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options: UsingOptions & { onBusy: 'skip' }): Promise<T | undefined>;
  using<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options?: UsingOptions): Promise<T | undefined>;
  async using<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options?: UsingOptions): Promise<T | undefined> {
    if (typeof fn !== 'function') {
      this.reportAndThrow(new InvalidLockOptionsError(`using() needs a function as its second argument, got ${typeof fn}.`));
    }
    const entry = await this.open(key, options);
    return entry && this.runInside(entry, fn);
  }

  /**
   * Runs one tick of a scheduled `@Locked` job (`@Cron`, `@Interval`) with `onBusy: 'skip'`: as `using()`, but a tick
   * the store cannot be reached for is skipped as a busy one is (at debug level). Nobody waits for a tick's outcome:
   * a rejection would only be logged by the scheduler, once per tick, while the store reports the outage itself
   * (once when it starts, once when it ends), and the next tick tries again.
   * @param key the job's key(s)
   * @param fn the job
   * @param options the job's options
   * @internal
   */
  async runTick<T>(key: LockKey, fn: (lock: Lock) => T | Promise<T>, options: UsingOptions): Promise<T | undefined> {
    const entry = await this.open(key, options, undefined, true);
    return entry && this.runInside(entry, fn);
  }

  /** Runs `fn` inside the entered lock and leaves it once `fn` (or the Observable it returns) has ended. */
  private async runInside<T>(entry: LockEntry, fn: (lock: Lock) => T | Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await entry.run(() => fn(entry.lock));
    } catch (error) {
      await entry.exit();
      this.failures.report(error);
      throw error;
    }
    if (isObservable(result)) {
      // The work goes on for as long as the stream does: hold the lock until it ends.
      return result.pipe(finalize(() => void entry.exit())) as T;
    }
    await entry.exit();
    return result;
  }

  /**
   * A stream that takes the lock when subscribed, then subscribes to what `factory` returns, and holds the lock
   * until that stream completes, errors or is unsubscribed (for server-sent events, streamed replies, and
   * interceptors). Re-entrant like `using()`. An unsubscription while waiting cancels the wait. Each subscription
   * takes a lock of its own (a `retry` takes it again).
   *
   * An unsubscription does not stop work that `factory` started as a Promise: if it comes before the Promise settled,
   * `lock.signal` aborts (with a `LockError` reason) and the lock is held until the Promise settles (extended meanwhile
   * with `autoExtend`), so that no other caller enters while the work still runs.
   * @param key a key, or several keys taken together
   * @param factory makes the stream once the lock is held (an Observable, a Promise or an iterable)
   * @param options as `using()`; with `onBusy: 'skip'` a busy lock completes the stream empty
   */
  stream<T>(key: LockKey, factory: (lock: Lock) => ObservableInput<T>, options?: UsingOptions): Observable<T> {
    return this.streamAnswered(key, factory, options, isPromiseLike);
  }

  /**
   * `stream()`, told which work an unsubscription does not stop before it answers: when `outlives` says so of what
   * `factory` returned, an unsubscription before that stream's first notification (its answer) aborts `lock.signal`
   * and keeps both the lock and the subscription to the work until the answer comes, then ends them.
   * @param key a key, or several keys taken together
   * @param factory makes the stream once the lock is held
   * @param options as `stream()`
   * @param outlives whether the work behind what `factory` returned goes on, unsubscribed, until it answers
   * @internal
   */
  streamAnswered<T>(
    key: LockKey,
    factory: (lock: Lock) => ObservableInput<T>,
    options: UsingOptions | undefined,
    outlives: (input: ObservableInput<T>) => boolean,
  ): Observable<T> {
    return new Observable<T>((subscriber) => {
      const cancel = new AbortController();
      let entry: LockEntry | undefined;
      let inner: Subscription | undefined;
      let awaited = false;
      let grace: Timer | undefined;
      const start = async (): Promise<void> => {
        entry = await this.open(key, options, cancel.signal);
        const held = entry;
        if (!held || cancel.signal.aborted) {
          await held?.exit();
          subscriber.complete();
          return;
        }
        let input: ObservableInput<T>;
        try {
          input = held.run(() => factory(held.lock));
        } catch (error) {
          // Thrown before there was a stream to hold the lock for: leave it now.
          await held.exit();
          this.failures.report(error);
          throw error;
        }
        awaited = outlives(input);
        const answered = (): void => {
          awaited = false;
          grace?.clear();
          if (subscriber.closed) {
            // Unsubscribed while the work ran: it has ended now.
            inner?.unsubscribe();
          }
        };
        const source = from(input).pipe(
          tap({
            next: answered,
            error: (error: unknown) => {
              this.failures.report(error);
              answered();
            },
            complete: answered,
          }),
          finalize(() => void held.exit()),
        );
        // Its own subscription, not the subscriber's: an unsubscription must not end work that outlives it.
        inner = held.run(() =>
          source.subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => subscriber.error(error),
            complete: () => subscriber.complete(),
          }),
        );
        if (subscriber.closed && !awaited) {
          inner.unsubscribe();
        }
      };
      start().catch((error: unknown) => subscriber.error(error));
      return () => {
        cancel.abort();
        if (awaited && entry) {
          const { lock } = entry;
          entry.abandon(
            new LockError(
              `The stream under lock ${JSON.stringify(lock.keys)} was unsubscribed (a timeout, a retry, a client that went away) ` +
                `while its work still ran: stop the work. The lock is held until it ends, for at most its ttl (${lock.ttl} ms).`,
            ),
          );
          // Work that never answers (a stream that never emits, taken for a Promise) was told: it gets one lease to stop.
          grace = startTimer(() => inner?.unsubscribe(), lock.ttl);
          return;
        }
        inner?.unsubscribe();
      };
    });
  }

  /**
   * The lock held by the current call chain (inside `using()`, `stream()` or a `@Locked` method), so the work can
   * pass `signal` to its own I/O and `fencingToken` to its writes.
   * @param key the key to look up; without it, the innermost lock
   * @returns the lock, or `undefined` outside a lock (or if the chain does not hold `key`)
   */
  current(key?: string): Lock | undefined {
    return this.chain.current(key);
  }

  /**
   * Campaigns for the leadership of `name` in the background: at most one instance leads it at a time, in terms with
   * strictly increasing numbers, and when the term ends (resigned, app closed, lease lost) another takes over; a
   * lost term is followed by a new campaign. Returns this app's running campaign for `name` if there is one.
   * @param name the name (its lock key is `leader:<name>`)
   * @param options `ttl` (lease of a term, default 15000 ms), `retry` (a follower's round, default 2000 ms), `signal`
   * @returns the campaign: `isLeader`, `term`, `leader`, `changes`, `signal`, `resign()`
   * @throws InvalidLockOptionsError for a bad name or option, or options that differ from the running campaign's
   */
  elect(name: string, options?: LeaderOptions): Leadership {
    return this.elections.elect(name, options);
  }

  /**
   * Whether anyone holds the lock (any of the keys) right now.
   * @param key a key, or several keys
   */
  async isLocked(key: LockKey): Promise<boolean> {
    return this.store.isLocked(normalizeLockKeys(key));
  }

  /** With `verifyConnection`, fails the app's start unless the store answers. */
  async onModuleInit(): Promise<void> {
    if (!this.options.verifyConnection || !this.store.ping) {
      return;
    }
    // Nest's start-up reports a failure (ExceptionHandler); logging it here too would print it twice.
    await verifyLockStore(this.store, this.options);
  }

  /**
   * Resigns every leadership of this app, so that other instances take over at once (a rolling deploy), and aborts
   * the `signal` of every other lock it holds, so that the work under them stops before they are released.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stopWork();
  }

  /**
   * Stops waiting callers, waits (up to `shutdownTimeout`) for the work still running under this app's locks, the
   * locks held meanwhile, then releases the locks this app still holds and closes the store if the module made it.
   */
  async onApplicationShutdown(): Promise<void> {
    this.shutdown.abort(new LockError('The application is shutting down; no more locks are handed out.'));
    await this.stopWork();
    const unparked = this.handOff.unparkAll();
    // Aborted waiters leave the store's queues on their way out: let them, before the connection closes.
    await settleWithin(Promise.allSettled([...this.taking]), this.options.commandTimeout);
    await settleWithin(this.chain.idle(), this.options.shutdownTimeout);
    const unfinished = this.chain.running.filter((lock) => lock.isHeld);
    const held = [...this.held];
    await Promise.allSettled([unparked, ...held.map((lock) => lock.release())]);
    if (unfinished.length > 0) {
      this.logger.warn(
        `Released lock(s) ${unfinished.map((lock) => formatKeys(lock.keys)).join(', ')} ` +
          `on shutdown while their work was still running: it did not end within shutdownTimeout (${this.options.shutdownTimeout} ms) ` +
          `after its signal aborted. Have the work stop when lock.signal aborts, or raise shutdownTimeout.`,
      );
    }
    if (held.length > 0) {
      this.logger.log(`Released ${held.length} lock(s) on shutdown.`);
    }
    this.eventSubject.complete();
    if (this.options.ownsStore) {
      await this.store.close?.();
    }
  }

  /**
   * Resigns every leadership (its terms end at once, before their locks are told anything) and tells the work
   * under every other lock to stop (see {@link Lock.interrupt}); locks granted from now on are told at once.
   */
  private async stopWork(): Promise<void> {
    const resigned = this.elections.close();
    if (!this.closing.signal.aborted) {
      this.closing.abort();
      this.held.forEach((lock) => this.interrupt(lock));
    }
    await resigned;
  }

  private interrupt(lock: Lock): void {
    lock.interrupt(
      new LockError(
        `The application is shutting down: stop the work under lock ${formatKeys(lock.keys)} ` +
          `now. The lock stays held until the work under using() or @Locked ends (release() a lock you took with acquire()), ` +
          `for at most shutdownTimeout (${this.options.shutdownTimeout} ms).`,
      ),
    );
  }

  /** The options of `using()` / `stream()`: the watchdog on, and no wait by default when a busy lock is skipped. */
  private resolveUsing(options: UsingOptions | undefined): ResolvedLockOptions {
    const skipping = options?.onBusy === 'skip' && options.waitTimeout === undefined;
    const defaults = { ...this.defaults, autoExtend: true, waitTimeout: skipping ? 0 : this.defaults.waitTimeout };
    return resolveLockOptions(options, defaults, USING_OPTION_NAMES);
  }

  /**
   * Validates, then enters the call chain for `key` (re-entrant) or takes the lock: `undefined` when a busy lock is
   * skipped (with `skipUnreachable`, also when the store cannot be reached); any other failure is logged once (see
   * {@link LockFailureLog}) and thrown.
   */
  private async open(
    key: LockKey,
    options: UsingOptions | undefined,
    cancel?: AbortSignal,
    skipUnreachable = false,
  ): Promise<LockEntry | undefined> {
    try {
      const keys = normalizeLockKeys(key);
      const resolved = this.resolveUsing(options);
      const signal = cancel && resolved.signal ? AbortSignal.any([resolved.signal, cancel]) : (cancel ?? resolved.signal);
      return await this.chain.enter(keys, resolved.share, (missing) => this.take(missing, { ...resolved, signal }));
    } catch (error) {
      if (options?.onBusy === 'skip' && error instanceof LockNotAcquiredError) {
        this.logger.debug(`Skipped work under lock ${JSON.stringify(error.keys)}: it is busy (onBusy: 'skip').`);
        return undefined;
      }
      if (options?.onBusy === 'skip' && skipUnreachable && error instanceof LockStoreUnavailableError) {
        this.logger.debug(`Skipped a tick of a scheduled job (onBusy: 'skip'): ${error.message}`);
        return undefined;
      }
      this.reportAndThrow(error);
    }
  }

  /**
   * Logs a failure of a declarative lock (`@Locked`, `@UseLock`) that happened before it reached this service, such
   * as a key that could not be built, once, as the service's own failures are.
   * @param error the failure
   * @internal
   */
  reportAndThrow(error: unknown): never {
    this.failures.report(error);
    throw error;
  }

  /**
   * Has the locks this app holds on `key` check their hold with the store now, as the watchdog does: those the store no
   * longer has are lost at once (`signal` aborts with a `LockLostError`). For `LockFaults.lose()`.
   * @param key the key
   * @internal
   */
  async checkHeld(key: string): Promise<void> {
    const holding = [...this.held].filter((lock) => lock.keys.includes(key));
    await Promise.allSettled(holding.map((lock) => lock.extend()));
  }

  /** Takes the lock for a new token; shutdown waits for the way out of the queue. */
  private async take(keys: string[], options: ResolvedLockOptions): Promise<Lock> {
    if (options.share && !this.store.shares) {
      throw new InvalidLockOptionsError(
        `${options.share.mode === 'read' ? "mode 'read'" : 'limit'} needs a store that takes read locks and semaphore permits; ` +
          `the module's store (${this.store.constructor.name}) does not (quorum mode takes exclusive locks only): use one Redis, a Cluster or Sentinel.`,
      );
    }
    const signal = options.signal ? AbortSignal.any([options.signal, this.shutdown.signal]) : this.shutdown.signal;
    const taking = new LockAcquisition(this.acquisitions, keys, options, options.waitTimeout, signal).run();
    this.taking.add(taking);
    const settled = (): void => void this.taking.delete(taking);
    taking.then(settled, settled);
    return taking;
  }

  /** The handle of a lock passed on inside this app: the same store token, the block's next fencing token. */
  private async receive(pass: LocalPass, options: ResolvedLockOptions, askedAt: number): Promise<Lock | undefined> {
    const received = await this.handOff.receive(pass, options);
    const { cohort, fencingToken } = pass;
    return (
      received &&
      this.grant([cohort.key], cohort.token, { fencingToken, lease: received.lease }, options, received.startedAt, askedAt, cohort)
    );
  }

  private grant(
    keys: readonly string[],
    token: string,
    granted: LockStoreGrant,
    options: ResolvedLockOptions,
    startedAt: number,
    askedAt: number,
    cohort: Cohort | undefined,
  ): Lock {
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
        share: options.share,
      },
      {
        store: this.store,
        logger: this.logger,
        settled: (settled, state) => {
          this.held.delete(settled);
          if (cohort && state !== 'passed') {
            this.acquisitions.queue.end(cohort);
          }
        },
        passOn: cohort && ((released, keepFor) => this.handOff.passOn(released, cohort, keepFor)),
        emit: (event) => this.eventSubject.next(event),
        stopped: this.shutdown.signal,
      },
    );
    this.held.add(lock);
    if (this.closing.signal.aborted) {
      this.interrupt(lock);
    }
    if (cohort) {
      this.acquisitions.queue.hold(cohort, () => lock.leaseEnd);
    }
    this.eventSubject.next({
      type: 'acquired',
      keys,
      token,
      fencingToken: granted.fencingToken,
      ...shareFields(options.share),
      waited: clock.now() - askedAt,
    });
    return lock;
  }

  private busy(keys: readonly string[], askedAt: number, share: LockShare | undefined): LockNotAcquiredError {
    const waited = clock.now() - askedAt;
    this.eventSubject.next({ type: 'busy', keys, ...shareFields(share), waited });
    const error = new LockNotAcquiredError(keys, waited);
    if (this.options.errorMessage !== undefined) {
      error.answerWith(this.options.errorMessage);
    }
    return error;
  }

  private async releaseAfterWork(lock: Lock): Promise<void> {
    await lock.release().catch((error: unknown) => {
      this.logger.warn(
        `Could not release lock ${JSON.stringify(lock.keys)} after its work ended (${error instanceof Error ? error.message : String(error)}); ` +
          `the work's outcome stands, and the release is retried in the background until the lease ends.`,
      );
    });
  }
}

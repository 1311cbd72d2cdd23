import { Observable, Subject } from 'rxjs';
import { clock } from '../utils/clock.util.js';
import { LockError, LockLostError, LockNotAcquiredError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockEvent, LockOptions, LockStore } from '../interfaces/index.js';
import type { LockLogger } from '../lock.logger.js';
import type { Lock } from '../core/lock.js';
import { LockFailureLog } from '../core/lock-failure.log.js';
import { pause, startTimer } from '../utils/timer.util.js';
import type { Leadership } from './leadership.interface.js';
import type { ResolvedLeaderOptions } from './leader-options.resolver.js';
import { LeaderTerm, type TermEnd } from './leader-term.js';

/** What an election needs from the app's LockService. */
export interface LeaderElectionContext {
  /** Takes the election's lock (`LockService.acquire`). */
  acquire(key: string, options: LockOptions): Promise<Lock>;
  /** Tells followers who holds the key (`holder`). */
  readonly store: LockStore;
  /** `appName@host:pid` of this process. */
  readonly self: string;
  readonly logger: LockLogger;
  /** Publishes on `LockService.events`. */
  emit(event: LockEvent): void;
  /** Called once, when the campaign has stopped for good. */
  stopped(election: LeaderElection): void;
}

/** Why a round of the campaign was cut short: its time was up, or the campaign stopped. */
const ROUND_OVER = new Error('the campaign round is over');

/**
 * One app's campaign for one name. Rounds of bounded waits for the name's lock (`leader:<name>`): a follower
 * queues for `retry` ms, woken at once by a release, then leaves and queues again (so that a follower that died in
 * the queue never blocks the name for long) and looks up who leads. Once granted, the lock is a term: it lasts
 * while the lock's watchdog renews it (every ttl/3) and ends with the lock's loss or a resignation; a lost term is
 * followed by the next round at once.
 */
export class LeaderElection implements Leadership {
  readonly changes: Observable<boolean>;
  private readonly changeSubject = new Subject<boolean>();
  /** Aborted when the campaign stops: `resign()`, the caller's signal, the app's shutdown. */
  private readonly stop = new AbortController();
  private readonly failures: LockFailureLog;
  private current?: LeaderTerm;
  private round?: AbortController;
  /** The leader a follower saw last, and the number of the latest look (older answers are dropped). */
  private observed?: string;
  private looks = 0;
  private done: Promise<void> = Promise.resolve();

  /**
   * @param name the name campaigned for
   * @param key its lock key
   * @param options ttl, retry and the caller's signal
   * @param context the app's LockService
   */
  constructor(
    readonly name: string,
    readonly key: string,
    readonly options: ResolvedLeaderOptions,
    private readonly context: LeaderElectionContext,
  ) {
    this.failures = new LockFailureLog(context.logger);
    this.changes = new Observable<boolean>((subscriber) => {
      if (this.current) {
        subscriber.next(true);
      }
      return this.changeSubject.subscribe(subscriber);
    });
  }

  get isLeader(): boolean {
    return this.current?.live ?? false;
  }

  get term(): number | undefined {
    return this.isLeader ? this.current?.number : undefined;
  }

  get leader(): string | undefined {
    return this.isLeader ? this.context.self : this.observed;
  }

  get signal(): AbortSignal {
    return this.current?.signal ?? AbortSignal.abort(new LockLostError([this.key], `this instance does not lead "${this.name}" now`));
  }

  /** Whether the campaign has stopped (resigned, its signal aborted, or the app shut down). */
  get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  /** Starts campaigning (unless the caller's signal is aborted already). */
  start(): void {
    const { signal } = this.options;
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) {
      this.stop.abort();
    }
    this.done = this.run();
  }

  resign(): Promise<void> {
    if (!this.stop.signal.aborted) {
      this.stop.abort();
      this.round?.abort(ROUND_OVER);
      const term = this.current;
      if (term?.live) {
        term.end('resigned', new LockLostError([this.key], `this instance resigned the leadership of "${this.name}"`));
      } else {
        // Its lease ran out before the resignation (a stall that no timer has reported yet): the term was lost.
        term?.end('lost', new LockLostError([this.key], `its lease of ${this.options.ttl} ms ran out before this instance resigned`));
      }
    }
    return this.done;
  }

  private readonly onAbort = (): void => void this.resign();

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      const lock = await this.campaignRound();
      if (lock) {
        await this.lead(lock);
      }
    }
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.changeSubject.complete();
    this.context.stopped(this);
  }

  /** One bounded wait for the lock; undefined when the round ended without it. */
  private async campaignRound(): Promise<Lock | undefined> {
    const round = new AbortController();
    this.round = round;
    const timer = startTimer(() => round.abort(ROUND_OVER), this.options.retry);
    this.lookUpLeader();
    try {
      // The store's queue entry outlives the round a little (the round's own timer ends it), so a follower that
      // dies queued blocks a hand-over for two rounds at most, whatever else is fixed in the queue.
      return await this.context.acquire(this.key, {
        ttl: this.options.ttl,
        waitTimeout: 2 * this.options.retry,
        autoExtend: true,
        signal: round.signal,
      });
    } catch (error) {
      if (!round.signal.aborted && !(error instanceof LockNotAcquiredError) && !(error instanceof LockStoreUnavailableError)) {
        // Not a busy name nor an outage (the store reports those itself): log it once, and do not spin on it.
        const detail = error instanceof Error ? error.message : String(error);
        this.failures.report(
          error instanceof LockError ? error : new LockError(`The campaign for "${this.name}" failed: ${detail}`, 500, error),
        );
        await pause(this.options.retry, this.stop.signal);
      }
      return undefined;
    } finally {
      timer.clear();
    }
  }

  /** Holds the term for as long as it lasts; a resignation gives the lock back at once. */
  private async lead(lock: Lock): Promise<void> {
    if (this.stop.signal.aborted || !lock.isHeld) {
      // Resigned while the grant was on its way, or its lease ran out here since (a stall): never a term.
      await lock.release().catch(() => undefined);
      return;
    }
    const term = new LeaderTerm(lock, (ended, end) => this.termEnded(ended, end));
    this.current = term;
    this.looks += 1;
    this.observed = undefined;
    this.context.logger.log(`Leading "${this.name}" (term ${term.number}).`);
    this.context.emit({ type: 'elected', ...this.identity(term) });
    this.changeSubject.next(true);
    const end = await term.ended;
    // A resignation gives the lock back; so does one that came after a stall ended the term (the watchdog could
    // otherwise renew a lease Redis still had).
    if (end === 'resigned' || this.stop.signal.aborted) {
      await lock.release().catch((error: unknown) => {
        this.context.logger.warn(
          `Could not hand over the leadership of "${this.name}" on resigning (${error instanceof Error ? error.message : String(error)}); ` +
            `another instance takes over when the term's lease ends, within ${this.options.ttl} ms.`,
        );
      });
    }
  }

  private termEnded(term: LeaderTerm, end: TermEnd): void {
    this.current = undefined;
    this.looks += 1;
    this.observed = undefined;
    const led = clock.now() - term.startedAt;
    this.context.logger.log(`Stopped leading "${this.name}" (term ${term.number}, ${end}).`);
    this.context.emit({ type: 'term-ended', ...this.identity(term), led, reason: end });
    this.changeSubject.next(false);
  }

  /** Asks the store who holds the name now, for `leader` on a follower. */
  private lookUpLeader(): void {
    const look = (this.looks += 1);
    this.context.store.holder?.(this.key).then(
      (token) => {
        if (look === this.looks) {
          // Tokens are `app@host:pid/<uuid>`: the part before the slash names the process.
          this.observed = token?.split('/')[0];
        }
      },
      // Unknown for now; the next round looks again.
      () => undefined,
    );
  }

  private identity(term: LeaderTerm): Omit<Extract<LockEvent, { type: 'elected' }>, 'type'> {
    const { keys, token, mode, limit } = term.lock;
    return { keys, token, fencingToken: term.number, mode, limit, name: this.name, term: term.number };
  }
}

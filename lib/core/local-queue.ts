import { performance } from 'node:perf_hooks';
import { settleWithin, startTimer, type Timer } from '../utils/timer.util.js';

/**
 * This process's hold on one key: the store's lease, passed from caller to caller of the process without a round
 * trip to the store (lock cohorting), until a bound, while callers of the process wait for the key.
 */
export interface Cohort {
  readonly key: string;
  /** The store token of the lease. */
  readonly token: string;
  /** The next unused fencing token of the grant's block. */
  nextFence: number;
  /** The block's last fencing token. */
  readonly lastFence: number;
  /** Passes made so far. */
  passes: number;
  /** `performance.now()` when the store granted the lease. */
  readonly startedAt: number;
  /** The store granted it after a wait: the key is contended, so the lease may linger for this process's next caller. */
  readonly contended: boolean;
}

/** A lease kept a short while after its holder released it, for the process's next caller. */
interface Parked {
  readonly pass: LocalPass;
  readonly timer: Timer;
  readonly expire: () => void;
}

/** The lock, passed on by the caller before: its lease and the receiver's fencing token. */
export interface LocalPass {
  readonly cohort: Cohort;
  readonly fencingToken: number;
  /** ms the store's lease still runs. */
  readonly lease: number;
}

/** A caller of this process waiting for its turn at one key. */
interface LocalWaiter {
  /** Set once it has someone before it: wakes it when it becomes the head. */
  wake?: () => void;
  /** Set while the head waits for a pass: `undefined` means "no pass is coming; ask the store". */
  receive?: (pass: LocalPass | undefined) => void;
  /** It may take a pass: its lease will be the holder's rest, which only a watchdog makes its own ttl. */
  readonly acceptsPasses: boolean;
}

/** The head's turn at a key: wait for a pass while the process holds the key, and end the turn. */
export interface LocalTurn {
  /**
   * While this process holds the key, waits for the lock to be passed on to this caller.
   * @param timeout longest wait, in ms
   * @param signal ends the wait early
   * @returns the pass; or `undefined` when the key is not held here (any more) and the store must be asked, or
   * the wait timed out or was aborted
   */
  awaitPass(timeout: number, signal: AbortSignal): Promise<LocalPass | undefined>;
  /** Ends the turn: the next caller of this process at the key becomes the head. */
  done(): void;
}

interface LocalKey {
  readonly waiters: LocalWaiter[];
  cohort?: Cohort;
  parked?: Parked;
}

/**
 * The callers of one process waiting for the same key, in arrival order: only the first of them (the head; for a
 * semaphore, the first `limit`) talks to the store, so 100 waiters in one process cost a handful of commands, not 100 pollers. While the process
 * holds the key, the head waits here for the holder to pass the lock on instead of queueing in the store, so that
 * when the process lets the key go, the store's queue (the other instances) gets its turn first.
 */
export class LocalQueue {
  private readonly keys = new Map<string, LocalKey>();

  /**
   * Waits until every earlier caller of this process waiting for `key` is done.
   * @param key the key
   * @param deadline `performance.now()` time after which the caller gives up
   * @param signal ends the wait early (rejects with its reason)
   * @param busy the error to reject with when the deadline passes first
   * @param acceptsPasses the caller may take the lock passed on by the holder of this process
   * @param width how many callers of the process may ask the store at once (a semaphore's limit) @default 1
   */
  async turn(key: string, deadline: number, signal: AbortSignal, busy: () => Error, acceptsPasses: boolean, width = 1): Promise<LocalTurn> {
    const local = this.local(key);
    const me: LocalWaiter = { acceptsPasses };
    local.waiters.push(me);
    const done = (): void => {
      const index = local.waiters.indexOf(me);
      local.waiters.splice(index, 1);
      if (index < width) {
        local.waiters[width - 1]?.wake?.();
      }
      this.forget(key, local);
    };
    if (local.waiters.length > width) {
      await settleWithin(new Promise<void>((resolve) => (me.wake = resolve)), deadline - performance.now(), signal);
      if (local.waiters.indexOf(me) >= width) {
        done();
        signal.throwIfAborted();
        throw busy();
      }
    }
    return { done, awaitPass: (timeout, waitSignal) => this.awaitPass(local, me, timeout, waitSignal) };
  }

  /**
   * Records that this process now holds `cohort.key` (a grant from the store, or a pass).
   * @param cohort the hold
   */
  hold(cohort: Cohort): void {
    this.local(cohort.key).cohort = cohort;
  }

  /**
   * Passes the lock to the head of the key's waiters, if it is waiting for one and may take it.
   * @param pass the lock, its lease and the receiver's fencing token
   * @returns whether the head took it
   */
  passOn(pass: LocalPass): boolean {
    const head = this.keys.get(pass.cohort.key)?.waiters[0];
    if (!head?.receive || !head.acceptsPasses) {
      return false;
    }
    head.receive(pass);
    return true;
  }

  /**
   * Keeps the lease of `pass.cohort` for `linger` ms after its holder released it: a caller of this process that
   * comes meanwhile takes `pass` at once; otherwise `expire` runs (it releases the lease to the store).
   * @param pass what the next caller gets
   * @param linger ms to wait for one
   * @param expire called if none came
   */
  park(pass: LocalPass, linger: number, expire: () => void): void {
    const local = this.local(pass.cohort.key);
    const timer = startTimer(() => {
      if (local.parked?.pass === pass) {
        local.parked = undefined;
        this.end(pass.cohort);
        expire();
      }
    }, linger);
    local.parked = { pass, timer, expire };
  }

  /**
   * Takes the lease parked for `key`, if there is one and the caller may take a pass.
   * @param key the key
   * @param acceptsPasses the caller has a watchdog
   */
  takeParked(key: string, acceptsPasses: boolean): LocalPass | undefined {
    const local = this.keys.get(key);
    const parked = local?.parked;
    if (!local || !parked || !acceptsPasses) {
      return undefined;
    }
    parked.timer.clear();
    local.parked = undefined;
    return parked.pass;
  }

  /** Ends every parked lease at once (app shutdown), running their `expire`. */
  unparkAll(): void {
    for (const local of [...this.keys.values()]) {
      const parked = local.parked;
      if (parked) {
        parked.timer.clear();
        local.parked = undefined;
        this.end(parked.pass.cohort);
        parked.expire();
      }
    }
  }

  /** Whether callers of this process wait for the key (the holder then gives its turn to the other instances). */
  hasWaiters(key: string): boolean {
    return (this.keys.get(key)?.waiters.length ?? 0) > 0;
  }

  /**
   * Records that the process no longer holds the key through `cohort` (released to the store, or lost), and sends
   * a head waiting for a pass to the store.
   * @param cohort the hold that ended
   */
  end(cohort: Cohort): void {
    const local = this.keys.get(cohort.key);
    if (local?.cohort !== cohort) {
      return;
    }
    local.cohort = undefined;
    local.waiters[0]?.receive?.(undefined);
    this.forget(cohort.key, local);
  }

  private async awaitPass(local: LocalKey, me: LocalWaiter, timeout: number, signal: AbortSignal): Promise<LocalPass | undefined> {
    const parked = local.cohort && this.takeParked(local.cohort.key, me.acceptsPasses);
    if (parked) {
      return parked;
    }
    if (!local.cohort || !me.acceptsPasses) {
      return undefined;
    }
    let received: LocalPass | undefined;
    await settleWithin(
      new Promise<void>((resolve) => {
        me.receive = (pass) => {
          received = pass;
          resolve();
        };
      }),
      timeout,
      signal,
    );
    me.receive = undefined;
    return received;
  }

  private local(key: string): LocalKey {
    let local = this.keys.get(key);
    if (!local) {
      local = { waiters: [] };
      this.keys.set(key, local);
    }
    return local;
  }

  private forget(key: string, local: LocalKey): void {
    if (local.waiters.length === 0 && !local.cohort && !local.parked && this.keys.get(key) === local) {
      this.keys.delete(key);
    }
  }
}

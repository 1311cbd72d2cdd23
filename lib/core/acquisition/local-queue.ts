import { clock } from '../../utils/clock.util.js';
import { settleWithin, startTimer, type Timer } from '../../utils/timer.util.js';
import type { Cohort, LocalPass } from './cohort.js';

/** A lease kept a short while after its holder released it, for the process's next caller. */
interface Parked {
  readonly pass: LocalPass;
  readonly timer: Timer;
}

/** A caller of this process waiting for its turn at one key. */
interface LocalWaiter {
  /** Set once it has someone before it: wakes it when it becomes the head. */
  wake?: () => void;
  /** Set while the head waits for a pass: `undefined` means "no pass is coming; ask the store". */
  receive?: (pass: LocalPass | undefined) => void;
}

/** The head's turn at a key: wait for a pass while the process holds the key, and end the turn. */
export interface LocalTurn {
  /**
   * While this process holds the key, waits for the lock to be passed on to this caller, at most until the
   * holder's lease ends.
   * @param timeout longest wait, in ms
   * @param signal ends the wait early
   * @returns the pass; or `undefined` when the key is not held here (any more) and the store must be asked, or
   * the wait timed out or was aborted
   */
  awaitPass(timeout: number, signal: AbortSignal): Promise<LocalPass | undefined>;
  /** Ends the turn: the next caller of this process at the key becomes the head. */
  done(): void;
}

/** This process's hold on a key: the cohort, and where its current holder's lease ends (it moves when extended). */
interface Holding {
  readonly cohort: Cohort;
  readonly leaseEnd: () => number;
}

interface LocalKey {
  readonly waiters: LocalWaiter[];
  holding?: Holding;
  parked?: Parked;
}

/**
 * The callers of one process waiting for the same key, in arrival order: only the first of them (the head; for a
 * semaphore, the first `limit`) talks to the store, so 100 waiters in one process cost a handful of commands, not
 * 100 pollers. While the process holds the key, the head waits here for the holder to pass the lock on instead of
 * queueing in the store, so that when the process lets the key go, the store's queue (the other instances) gets
 * its turn first. Nothing here outlives the lease it rests on: a hold ends with its lease, and a head waiting for a
 * pass goes to the store when the holder's lease ends.
 */
export class LocalQueue {
  private readonly keys = new Map<string, LocalKey>();

  /**
   * Waits until every earlier caller of this process waiting for `key` is done.
   * @param key the key
   * @param deadline `clock.now()` time after which the caller gives up
   * @param signal ends the wait early (rejects with its reason)
   * @param busy the error to reject with when the deadline passes first
   * @param width how many callers of the process may ask the store at once (a semaphore's limit) @default 1
   */
  async turn(key: string, deadline: number, signal: AbortSignal, busy: () => Error, width = 1): Promise<LocalTurn> {
    const local = this.local(key);
    const me: LocalWaiter = {};
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
      await settleWithin(new Promise<void>((resolve) => (me.wake = resolve)), deadline - clock.now(), signal);
      if (local.waiters.indexOf(me) >= width || signal.aborted) {
        done();
        signal.throwIfAborted();
        throw busy();
      }
    }
    return { done, awaitPass: (timeout, waitSignal) => this.awaitPass(key, local, me, timeout, waitSignal) };
  }

  /**
   * Records that this process now holds `cohort.key` (a grant from the store, or a pass).
   * @param cohort the hold
   * @param leaseEnd where the current holder's lease ends (`clock.now()` time)
   */
  hold(cohort: Cohort, leaseEnd: () => number): void {
    this.local(cohort.key).holding = { cohort, leaseEnd };
  }

  /**
   * Passes the lock to the head of the key's waiters, if it is waiting for one.
   * @param key the key
   * @param pass makes the pass (the lock, its lease and the receiver's fencing token) for the head
   * @returns whether the head took it
   */
  passOn(key: string, pass: () => LocalPass): boolean {
    const head = this.keys.get(key)?.waiters[0];
    if (!head?.receive) {
      return false;
    }
    head.receive(pass());
    return true;
  }

  /**
   * Keeps the lease of `pass.cohort` for `linger` ms (never past the lease) after its holder released it: a caller
   * of this process that comes meanwhile takes `pass`; otherwise the hold ends and `expire` runs (it gives the lease
   * back to the store).
   * @param pass what the next caller gets
   * @param linger ms to wait for one
   * @param expire called if none came
   */
  park(pass: LocalPass, linger: number, expire: () => void): void {
    const local = this.local(pass.cohort.key);
    const timer = startTimer(
      () => {
        if (local.parked?.pass === pass) {
          local.parked = undefined;
          this.end(pass.cohort);
          expire();
        }
      },
      Math.min(linger, pass.leaseEnd - clock.now()),
    );
    local.parked = { pass, timer };
  }

  /**
   * Takes the lease parked for `key`, if there is one. The taker holds it from now on (or ends the hold).
   * @param key the key
   */
  takeParked(key: string): LocalPass | undefined {
    const local = this.keys.get(key);
    const parked = local?.parked;
    if (!local || !parked) {
      return undefined;
    }
    parked.timer.clear();
    local.parked = undefined;
    return parked.pass;
  }

  /**
   * Ends every parked lease at once (app shutdown).
   * @returns the passes that were parked: their leases are to be given back to the store
   */
  unparkAll(): LocalPass[] {
    const passes: LocalPass[] = [];
    for (const local of [...this.keys.values()]) {
      const parked = local.parked;
      if (parked) {
        parked.timer.clear();
        local.parked = undefined;
        this.end(parked.pass.cohort);
        passes.push(parked.pass);
      }
    }
    return passes;
  }

  /** Whether callers of this process wait for the key (the holder then gives its turn to the other instances). */
  hasWaiters(key: string): boolean {
    return (this.keys.get(key)?.waiters.length ?? 0) > 0;
  }

  /**
   * Records that the process no longer holds the key through `cohort` (released to the store, lost, or its lease
   * ended), and sends a head waiting for a pass to the store.
   * @param cohort the hold that ended
   */
  end(cohort: Cohort): void {
    const local = this.keys.get(cohort.key);
    if (local?.holding?.cohort !== cohort) {
      return;
    }
    local.holding = undefined;
    local.waiters[0]?.receive?.(undefined);
    this.forget(cohort.key, local);
  }

  private async awaitPass(
    key: string,
    local: LocalKey,
    me: LocalWaiter,
    timeout: number,
    signal: AbortSignal,
  ): Promise<LocalPass | undefined> {
    const parked = this.takeParked(key);
    if (parked) {
      return parked;
    }
    const deadline = clock.now() + timeout;
    let received: LocalPass | undefined;
    for (let holding = local.holding; holding && holding === local.holding && !signal.aborted;) {
      const now = clock.now();
      const leaseEnd = holding.leaseEnd();
      if (now >= deadline || now >= leaseEnd) {
        break;
      }
      let answered = false;
      await settleWithin(
        new Promise<void>((resolve) => {
          me.receive = (pass) => {
            answered = true;
            received = pass;
            resolve();
          };
        }),
        Math.min(deadline, leaseEnd) - now,
        signal,
      );
      me.receive = undefined;
      if (answered) {
        break;
      }
    }
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
    if (local.waiters.length === 0 && !local.holding && !local.parked && this.keys.get(key) === local) {
      this.keys.delete(key);
    }
  }
}

import { LockStoreUnavailableError, MemoryLockStore, type Lock, type LockStoreGrant } from '../../lib';
import type { Cohort, CohortBounds } from '../../lib/core/acquisition/cohort';
import { LocalHandOff } from '../../lib/core/acquisition/local-hand-off';
import { LocalQueue, type LocalTurn } from '../../lib/core/acquisition/local-queue';
import type { ResolvedLockOptions } from '../../lib/options/lock-options.validator';
import { lockHandle, observe, queuedKeys, type Observed } from '../support/unit-fixtures';
import { settle, VirtualClock } from '../support/virtual-clock';

const BOUNDS: CohortBounds = { passes: 16, duration: 60_000, linger: 20 };
const NOT_ABORTED = new AbortController().signal;

/** A store whose clocks drift: a renewed lease is counted shorter by Redlock's allowance. */
class DriftingStore extends MemoryLockStore {
  drift(ttl: number): number {
    return Math.floor(ttl / 100) + 2;
  }
}

function options(overrides: Partial<ResolvedLockOptions> = {}): ResolvedLockOptions {
  return { ttl: 1_000, waitTimeout: 10_000, autoExtend: true, minHold: 0, ...overrides };
}

describe('LocalHandOff', () => {
  let clock: VirtualClock;
  let store: MemoryLockStore;
  let queue: LocalQueue;
  let shutdown: AbortController;
  let handOff: LocalHandOff;

  function build(bounds: CohortBounds | false = BOUNDS, lockStore = new MemoryLockStore()): void {
    store = lockStore;
    queue = new LocalQueue();
    shutdown = new AbortController();
    handOff = new LocalHandOff({ store, queue, bounds, stopped: shutdown.signal });
  }

  beforeEach(() => {
    clock = new VirtualClock();
    build();
  });

  afterEach(() => clock.uninstall());

  /** The process holds `key` through a grant of the store (after a wait when `contended`): its lock and cohort. */
  async function holding(key = 'k', ttl = 1_000, contended = false): Promise<{ lock: Lock; cohort: Cohort }> {
    const token = `holder:${key}`;
    const granted = (await store.acquire([key], token, ttl)) as LockStoreGrant;
    const cohort = handOff.cohortOf([key], token, granted, clock.now(), contended, undefined) as Cohort;
    const lock = lockHandle(store, { keys: [key], token, fencingToken: granted.fencingToken, ttl });
    queue.hold(cohort, () => lock.leaseEnd);
    return { lock, cohort };
  }

  /** A caller of the process at the head of the key's line, waiting for a pass. */
  async function waitingHead(key = 'k'): Promise<{ turn: LocalTurn; pass: Observed<unknown> }> {
    const turn = await queue.turn(key, clock.now() + 60_000, NOT_ABORTED, () => new Error('busy'));
    const pass = observe<unknown>(turn.awaitPass(60_000, NOT_ABORTED));
    await settle();
    return { turn, pass };
  }

  describe('cohortOf', () => {
    const grant: LockStoreGrant = { fencingToken: 7, reserved: 64 };

    it('makes a cohort of a single key held exclusively with a block of fencing tokens', () => {
      const cohort = handOff.cohortOf(['k'], 'token', grant, 1_234, true, undefined);
      expect(cohort).toMatchObject({ key: 'k', token: 'token', startedAt: 1_234, contended: true });
      expect(cohort?.pass(2_000).fencingToken).toBe(8);
    });

    it('makes none for several keys, a read lock, a semaphore permit, or a grant of a single fencing token', () => {
      expect(handOff.cohortOf(['a', 'b'], 'token', grant, 0, false, undefined)).toBeUndefined();
      expect(handOff.cohortOf(['k'], 'token', grant, 0, false, { mode: 'read' })).toBeUndefined();
      expect(handOff.cohortOf(['k'], 'token', grant, 0, false, { mode: 'permit', limit: 2 })).toBeUndefined();
      expect(handOff.cohortOf(['k'], 'token', { fencingToken: 7 }, 0, false, undefined)).toBeUndefined();
    });

    it('makes none with cohorts off', () => {
      build(false);
      expect(handOff.cohortOf(['k'], 'token', grant, 0, false, undefined)).toBeUndefined();
    });
  });

  describe('passOn', () => {
    it('passes the lock to the head waiting for it, with the block’s next fencing token and the holder’s lease end', async () => {
      const { lock, cohort } = await holding();
      const { turn, pass } = await waitingHead();
      expect(handOff.passOn(lock, cohort, 0)).toBe(true);
      await settle();
      expect(pass.value).toEqual({ cohort, fencingToken: lock.fencingToken + 1, leaseEnd: lock.leaseEnd });
      turn.done();
      queue.end(cohort);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('passes to a head waiting for it rather than parking, on a contended key too', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      const { turn, pass } = await waitingHead();
      expect(handOff.passOn(lock, cohort, 0)).toBe(true);
      await settle();
      expect(pass.value).toMatchObject({ cohort });
      expect(queue.takeParked('k')).toBeUndefined();
      turn.done();
      queue.end(cohort);
    });

    it('parks the lease of a contended key nobody of the process waits for, and gives it back to the store after `linger`', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      expect(handOff.passOn(lock, cohort, 0)).toBe(true);
      await clock.advance(BOUNDS.linger - 1);
      expect(await store.isLocked(['k'])).toBe(true);
      await clock.advance(1);
      expect(await store.isLocked(['k'])).toBe(false);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('parks a lease the next caller of the process then takes, with the next fencing token', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      expect(handOff.passOn(lock, cohort, 0)).toBe(true);
      await clock.advance(5);
      expect(queue.takeParked('k')).toEqual({ cohort, fencingToken: lock.fencingToken + 1, leaseEnd: lock.leaseEnd });
      await clock.advance(BOUNDS.linger);
      expect(await store.isLocked(['k'])).toBe(true);
      queue.end(cohort);
    });

    it('does not park an uncontended key: its release goes to the store', async () => {
      const { lock, cohort } = await holding('k', 1_000, false);
      expect(handOff.passOn(lock, cohort, 0)).toBe(false);
      expect(queue.takeParked('k')).toBeUndefined();
    });

    it('does not park with a linger of 0, nor when no more than the linger is left of the lease', async () => {
      build({ ...BOUNDS, linger: 0 });
      const noLinger = await holding('a', 1_000, true);
      expect(handOff.passOn(noLinger.lock, noLinger.cohort, 0)).toBe(false);
      build();
      const short = await holding('b', 1_000, true);
      clock.stall(1_000 - BOUNDS.linger);
      expect(handOff.passOn(short.lock, short.cohort, 0)).toBe(false);
      expect(queue.takeParked('b')).toBeUndefined();
    });

    it('never passes or parks while a minimum hold runs: the store keeps the key from everyone then', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      const { turn, pass } = await waitingHead();
      expect(handOff.passOn(lock, cohort, 300)).toBe(false);
      await settle();
      expect(pass.settled).toBe(false);
      turn.done();
      expect(handOff.passOn(lock, cohort, 300)).toBe(false);
      expect(queue.takeParked('k')).toBeUndefined();
      queue.end(cohort);
    });

    it('never passes or parks once the lease has ended (a stall past it)', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      const turn = await queue.turn('k', clock.now() + 60_000, NOT_ABORTED, () => new Error('busy'));
      clock.stall(1_000);
      // The head would be told to ask the store by the lease end; here it is asked just as the lease ended.
      const makePass = jest.spyOn(cohort, 'pass');
      expect(handOff.passOn(lock, cohort, 0)).toBe(false);
      turn.done();
      expect(handOff.passOn(lock, cohort, 0)).toBe(false);
      expect(makePass).not.toHaveBeenCalled();
      queue.end(cohort);
    });

    it('tells the release to yield the turn to the store’s queue when the bounds are reached and callers of the process wait', async () => {
      build({ ...BOUNDS, passes: 1 });
      const { lock, cohort } = await holding();
      const first = await waitingHead();
      expect(handOff.passOn(lock, cohort, 0)).toBe(true);
      await settle();
      first.turn.done();
      const second = await waitingHead();
      expect(handOff.passOn(lock, cohort, 0)).toBe('yield');
      await settle();
      expect(second.pass.settled).toBe(false);
      second.turn.done();
      queue.end(cohort);
    });

    it('yields once the cohort’s `duration` is over and callers of the process wait; without callers it just releases', async () => {
      build({ ...BOUNDS, duration: 25 });
      const { lock, cohort } = await holding();
      await clock.advance(25);
      expect(handOff.passOn(lock, cohort, 0)).toBe(false);
      const { turn } = await waitingHead();
      expect(handOff.passOn(lock, cohort, 0)).toBe('yield');
      turn.done();
      queue.end(cohort);
    });

    it('parks nothing once the app is shutting down', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      shutdown.abort();
      expect(handOff.passOn(lock, cohort, 0)).toBe(false);
      expect(queue.takeParked('k')).toBeUndefined();
    });
  });

  describe('receive', () => {
    it('hands a caller with a watchdog the rest of the lease as it is when at least half its ttl is left', async () => {
      const { lock, cohort } = await holding('k', 1_000);
      const extend = jest.spyOn(store, 'extend');
      clock.stall(500);
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 1_000 }));
      expect(received).toEqual({ startedAt: clock.now(), lease: 500 });
      expect(extend).not.toHaveBeenCalled();
    });

    it('caps what is left of a longer lease at the receiving caller’s ttl', async () => {
      const { lock, cohort } = await holding('k', 10_000);
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 1_000 }));
      expect(received).toEqual({ startedAt: clock.now(), lease: 1_000 });
    });

    it('renews the lease to the caller’s ttl by a token-checked extension when less than half of it is left', async () => {
      const { lock, cohort } = await holding('k', 1_000);
      const extend = jest.spyOn(store, 'extend');
      clock.stall(501);
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 2_000 }));
      expect(extend).toHaveBeenCalledWith(['k'], cohort.token, 2_000);
      expect(received).toEqual({ startedAt: clock.now(), lease: 2_000 });
      clock.stall(1_999);
      expect(await store.isLocked(['k'])).toBe(true);
    });

    it('renews the lease to the ttl of a caller without a watchdog when less than its ttl is left', async () => {
      const { lock, cohort } = await holding('k', 5_000);
      const extend = jest.spyOn(store, 'extend');
      clock.stall(2_500);
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 3_000, autoExtend: false }));
      expect(extend).toHaveBeenCalledWith(['k'], cohort.token, 3_000);
      expect(received).toEqual({ startedAt: clock.now(), lease: 3_000 });
    });

    it('never shortens the lease in the store for a caller without a watchdog and a shorter ttl: waiters elsewhere re-check by it', async () => {
      const { lock, cohort } = await holding('k', 5_000);
      const extend = jest.spyOn(store, 'extend');
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 3_000, autoExtend: false }));
      expect(extend).not.toHaveBeenCalled();
      expect(received).toEqual({ startedAt: clock.now(), lease: 3_000 });
      clock.stall(4_999);
      expect(await store.isLocked(['k'])).toBe(true);
    });

    it('counts a renewed lease less the store’s drift allowance', async () => {
      build(BOUNDS, new DriftingStore());
      const { lock, cohort } = await holding('k', 1_000);
      clock.stall(100);
      const received = await handOff.receive(cohort.pass(lock.leaseEnd), options({ ttl: 1_000, autoExtend: false }));
      expect(received?.lease).toBe(1_000 - 12);
    });

    it('gives the lease back and ends the process’s hold when the renewal finds the lease gone, without touching the next holder’s key', async () => {
      const { lock, cohort } = await holding('k', 1_000);
      const behind = await waitingHead();
      clock.stall(1_000);
      expect(await store.acquire(['k'], 'another-instance', 1_000)).toMatchObject({ acquired: true });
      const release = jest.spyOn(store, 'release');
      expect(await handOff.receive(cohort.pass(lock.leaseEnd), options())).toBeUndefined();
      await settle();
      expect(release).toHaveBeenCalledWith(['k'], cohort.token);
      expect(await store.extend(['k'], 'another-instance', 1_000)).toBe(true);
      // The hold ended: the process's next caller goes to the store.
      expect(behind.pass.settled).toBe(true);
      behind.turn.done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('gives the lease back, ends the process’s hold and says the store did not answer when the renewal gets no answer', async () => {
      const { lock, cohort } = await holding('k', 1_000);
      clock.stall(100);
      jest.spyOn(store, 'extend').mockRejectedValueOnce(new LockStoreUnavailableError('extend "k"'));
      await expect(handOff.receive(cohort.pass(lock.leaseEnd), options({ autoExtend: false }))).rejects.toBeInstanceOf(
        LockStoreUnavailableError,
      );
      await settle();
      expect(await store.isLocked(['k'])).toBe(false);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('hands over what is left when the lock reaches the caller: a stall between the pass and its receipt shrinks it', async () => {
      const { lock, cohort } = await holding('k', 1_000);
      const extend = jest.spyOn(store, 'extend');
      const pass = cohort.pass(lock.leaseEnd);
      clock.stall(300);
      expect(await handOff.receive(pass, options())).toEqual({ startedAt: clock.now(), lease: 700 });
      expect(extend).not.toHaveBeenCalled();
    });

    it('renews a pass that a stall left with less than half the caller’s ttl, and gives back one a stall took past the lease end', async () => {
      const first = await holding('a', 1_000);
      const renewedPass = first.cohort.pass(first.lock.leaseEnd);
      clock.stall(600);
      expect(await handOff.receive(renewedPass, options())).toEqual({ startedAt: clock.now(), lease: 1_000 });

      const second = await holding('b', 1_000);
      const lostPass = second.cohort.pass(second.lock.leaseEnd);
      clock.stall(1_000);
      expect(await handOff.receive(lostPass, options())).toBeUndefined();
      await settle();
      expect(await store.isLocked(['b'])).toBe(false);
      queue.end(first.cohort);
      expect(queuedKeys(queue)).toBe(0);
    });
  });

  describe('unparkAll', () => {
    it('gives every parked lease back to the store at shutdown and keeps nothing', async () => {
      const a = await holding('a', 1_000, true);
      const b = await holding('b', 1_000, true);
      expect(handOff.passOn(a.lock, a.cohort, 0)).toBe(true);
      expect(handOff.passOn(b.lock, b.cohort, 0)).toBe(true);
      await handOff.unparkAll();
      expect(await store.isLocked(['a'])).toBe(false);
      expect(await store.isLocked(['b'])).toBe(false);
      expect(queuedKeys(queue)).toBe(0);
      expect(queue.takeParked('a')).toBeUndefined();
    });

    it('settles even when the store does not answer the releases', async () => {
      const { lock, cohort } = await holding('k', 1_000, true);
      handOff.passOn(lock, cohort, 0);
      jest.spyOn(store, 'release').mockRejectedValue(new LockStoreUnavailableError('release "k"'));
      await expect(handOff.unparkAll()).resolves.toBeUndefined();
      expect(queuedKeys(queue)).toBe(0);
    });
  });
});

import { Cohort, type LocalPass } from '../../lib/core/acquisition/cohort';
import { LocalQueue, type LocalTurn } from '../../lib/core/acquisition/local-queue';
import { observe, queuedKeys, type Observed } from '../support/unit-fixtures';
import { settle, VirtualClock } from '../support/virtual-clock';

const BUSY = new Error('busy: the deadline passed');
const busy = (): Error => BUSY;
const NOT_ABORTED = new AbortController().signal;

describe('LocalQueue', () => {
  let clock: VirtualClock;
  let queue: LocalQueue;

  beforeEach(() => {
    clock = new VirtualClock();
    queue = new LocalQueue();
  });

  afterEach(() => clock.uninstall());

  /** A hold of `key` through a fresh store lease, as a grant from the store makes it. */
  function cohortOf(key = 'k', token = `token-${key}`): Cohort {
    return new Cohort(key, token, 100, 64, clock.now(), true);
  }

  /** The turn of a caller that is first in line (it resolves at once). */
  async function head(key = 'k', signal = NOT_ABORTED): Promise<LocalTurn> {
    return queue.turn(key, clock.now() + 60_000, signal, busy);
  }

  describe('turns', () => {
    it('gives the callers of a key their turns one at a time, in arrival order', async () => {
      const order: string[] = [];
      const first = await head();
      const turns = ['second', 'third', 'fourth'].map((name) =>
        queue.turn('k', clock.now() + 60_000, NOT_ABORTED, busy).then((turn) => {
          order.push(name);
          return turn;
        }),
      );
      await clock.advance(10);
      expect(order).toEqual([]);
      first.done();
      await settle();
      expect(order).toEqual(['second']);
      (await turns[0]).done();
      await settle();
      expect(order).toEqual(['second', 'third']);
      (await turns[1]).done();
      (await turns[2]).done();
      expect(order).toEqual(['second', 'third', 'fourth']);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('keeps one line per key: a caller of another key does not wait', async () => {
      const first = await head('a');
      const other = observe(queue.turn('b', clock.now() + 1_000, NOT_ABORTED, busy));
      await settle();
      expect(other.settled).toBe(true);
      first.done();
      (other.value as LocalTurn).done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('lets `width` callers of a semaphore have their turn at once, and the next one when any of them is done', async () => {
      const deadline = clock.now() + 60_000;
      const turns = [1, 2, 3, 4].map(() => observe(queue.turn('s', deadline, NOT_ABORTED, busy, 2)));
      await settle();
      expect(turns.map((turn) => turn.settled)).toEqual([true, true, false, false]);
      // The second of the two (not the first) is done: the third moves up all the same.
      (turns[1].value as LocalTurn).done();
      await settle();
      expect(turns.map((turn) => turn.settled)).toEqual([true, true, true, false]);
      (turns[0].value as LocalTurn).done();
      await settle();
      expect(turns[3].settled).toBe(true);
      (turns[2].value as LocalTurn).done();
      (turns[3].value as LocalTurn).done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('rejects a caller still behind others at its deadline with the busy error, not a moment before', async () => {
      const first = await head();
      const late = observe(queue.turn('k', clock.now() + 300, NOT_ABORTED, busy));
      await clock.advance(299);
      expect(late.settled).toBe(false);
      await clock.advance(1);
      expect(late.error).toBe(BUSY);
      first.done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('rejects a caller behind others at once when its deadline has passed already', async () => {
      const first = await head();
      const late = observe(queue.turn('k', clock.now() - 1, NOT_ABORTED, busy));
      await clock.advance(0);
      expect(late.error).toBe(BUSY);
      first.done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('takes a caller that gave up at its deadline out of the line: the one behind it gets the next turn', async () => {
      const first = await head();
      const late = observe(queue.turn('k', clock.now() + 100, NOT_ABORTED, busy));
      const patient = observe(queue.turn('k', clock.now() + 60_000, NOT_ABORTED, busy));
      await clock.advance(100);
      expect(late.error).toBe(BUSY);
      expect(patient.settled).toBe(false);
      first.done();
      await settle();
      expect(patient.settled).toBe(true);
      (patient.value as LocalTurn).done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('rejects a waiting caller with its signal’s reason when the signal aborts during the wait, and takes it out of the line', async () => {
      const first = await head();
      const controller = new AbortController();
      const reason = new Error('cancelled by the caller');
      const aborted = observe(queue.turn('k', clock.now() + 60_000, controller.signal, busy));
      const behind = observe(queue.turn('k', clock.now() + 60_000, NOT_ABORTED, busy));
      await clock.advance(50);
      controller.abort(reason);
      await settle();
      expect(aborted.error).toBe(reason);
      first.done();
      await settle();
      expect(behind.settled).toBe(true);
      (behind.value as LocalTurn).done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('rejects a caller behind others at once, with its signal’s reason, when the signal is already aborted', async () => {
      const first = await head();
      const reason = new Error('cancelled before the call');
      const aborted = observe(queue.turn('k', clock.now() + 60_000, AbortSignal.abort(reason), busy));
      await settle();
      expect(aborted.error).toBe(reason);
      first.done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('tells whether callers of the process wait for a key', async () => {
      expect(queue.hasWaiters('k')).toBe(false);
      const first = await head();
      expect(queue.hasWaiters('k')).toBe(true);
      first.done();
      expect(queue.hasWaiters('k')).toBe(false);
    });
  });

  describe('awaitPass', () => {
    /** The process holds `k` through `cohort` until `leaseEnd()`; its next caller heads the line and waits for a pass. */
    async function headWaiting(
      leaseEnd: () => number,
      timeout = 10_000,
      signal = NOT_ABORTED,
      cohort = cohortOf(),
    ): Promise<{ cohort: Cohort; turn: LocalTurn; waiting: Observed<LocalPass | undefined>; finish(): void }> {
      queue.hold(cohort, leaseEnd);
      const turn = await head();
      const waiting = observe(turn.awaitPass(timeout, signal));
      const finish = (): void => {
        turn.done();
        queue.end(cohort);
        expect(queuedKeys(queue)).toBe(0);
      };
      return { cohort, turn, waiting, finish };
    }

    /** The wait ended without a pass: the caller asks the store. */
    function expectToAskTheStore(waiting: Observed<LocalPass | undefined>): void {
      expect(waiting.settled).toBe(true);
      expect(waiting.value).toBeUndefined();
    }

    it('returns undefined at once when the process does not hold the key: the caller asks the store', async () => {
      const turn = await head();
      const waiting = observe(turn.awaitPass(10_000, NOT_ABORTED));
      await settle();
      expectToAskTheStore(waiting);
      turn.done();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('hands the head the pass its holder passes on', async () => {
      const { cohort, waiting, finish } = await headWaiting(() => clock.now() + 10_000);
      await clock.advance(20);
      expect(waiting.settled).toBe(false);
      const pass = cohort.pass(clock.now() + 1_000);
      expect(queue.passOn('k', () => pass)).toBe(true);
      await settle();
      expect(waiting.value).toBe(pass);
      finish();
    });

    it('makes no pass for a head that is not waiting for one, nor for a key nobody waits for', async () => {
      const cohort = cohortOf();
      queue.hold(cohort, () => clock.now() + 10_000);
      const makePass = jest.fn(() => cohort.pass(clock.now() + 1_000));
      expect(queue.passOn('k', makePass)).toBe(false);
      const turn = await head();
      expect(queue.passOn('k', makePass)).toBe(false);
      expect(makePass).not.toHaveBeenCalled();
      turn.done();
      queue.end(cohort);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('makes no pass for a caller behind the head', async () => {
      const cohort = cohortOf();
      queue.hold(cohort, () => clock.now() + 10_000);
      const first = await head();
      const second = observe(queue.turn('k', clock.now() + 60_000, NOT_ABORTED, busy));
      expect(queue.passOn('k', () => cohort.pass(clock.now() + 1_000))).toBe(false);
      first.done();
      await settle();
      (second.value as LocalTurn).done();
      queue.end(cohort);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('returns undefined to a head waiting for a pass when the hold ends (released to the store, or lost)', async () => {
      const { cohort, waiting, finish } = await headWaiting(() => clock.now() + 10_000);
      await clock.advance(50);
      queue.end(cohort);
      await settle();
      expectToAskTheStore(waiting);
      finish();
    });

    it('ignores the end of an older hold of the key: the head keeps waiting for the current holder', async () => {
      const older = cohortOf('k', 'older');
      queue.hold(older, () => clock.now() + 10_000);
      const { cohort, waiting, finish } = await headWaiting(() => clock.now() + 10_000, 10_000, NOT_ABORTED, cohortOf('k', 'current'));
      queue.end(older);
      await clock.advance(50);
      expect(waiting.settled).toBe(false);
      queue.end(cohort);
      await settle();
      expectToAskTheStore(waiting);
      finish();
    });

    it('returns undefined at the holder’s lease end, not a moment before: an expiry passes nothing on', async () => {
      const leaseEnd = clock.now() + 300;
      const { waiting, finish } = await headWaiting(() => leaseEnd);
      await clock.advance(299);
      expect(waiting.settled).toBe(false);
      await clock.advance(1);
      expectToAskTheStore(waiting);
      finish();
    });

    it('keeps waiting past the first lease end when the holder’s lease was extended meanwhile', async () => {
      let leaseEnd = clock.now() + 300;
      const { waiting, finish } = await headWaiting(() => leaseEnd);
      await clock.advance(200);
      leaseEnd += 500;
      await clock.advance(599);
      expect(waiting.settled).toBe(false);
      await clock.advance(1);
      expectToAskTheStore(waiting);
      finish();
    });

    it('returns undefined at once when the holder’s lease has ended already (a stall past it)', async () => {
      const cohort = cohortOf();
      const leaseEnd = clock.now() + 300;
      queue.hold(cohort, () => leaseEnd);
      const turn = await head();
      clock.stall(400);
      const waiting = observe(turn.awaitPass(10_000, NOT_ABORTED));
      await settle();
      expectToAskTheStore(waiting);
      turn.done();
      queue.end(cohort);
    });

    it('returns undefined at its own timeout when that comes before the lease end', async () => {
      const { waiting, finish } = await headWaiting(() => clock.now() + 10_000, 100);
      await clock.advance(99);
      expect(waiting.settled).toBe(false);
      await clock.advance(1);
      expectToAskTheStore(waiting);
      finish();
      expect(clock.pendingTimers).toBe(0);
    });

    it('returns undefined when its signal aborts during the wait, and at once for a signal already aborted', async () => {
      const controller = new AbortController();
      const { turn, waiting, finish } = await headWaiting(() => clock.now() + 10_000, 10_000, controller.signal);
      await clock.advance(50);
      controller.abort(new Error('cancelled'));
      await settle();
      expectToAskTheStore(waiting);
      const again = observe(turn.awaitPass(10_000, controller.signal));
      await settle();
      expectToAskTheStore(again);
      finish();
      expect(clock.pendingTimers).toBe(0);
    });

    it('returns a parked lease at once, without waiting for a holder', async () => {
      const cohort = cohortOf();
      queue.hold(cohort, () => clock.now() + 10_000);
      const pass = cohort.pass(clock.now() + 1_000);
      const expire = jest.fn();
      queue.park(pass, 50, expire);
      const turn = await head();
      const waiting = observe(turn.awaitPass(10_000, NOT_ABORTED));
      await settle();
      expect(waiting.value).toBe(pass);
      await clock.advance(100);
      expect(expire).not.toHaveBeenCalled();
      turn.done();
      queue.end(cohort);
      expect(queuedKeys(queue)).toBe(0);
    });
  });

  describe('parked leases', () => {
    /** A hold of `key` whose holder released it, parked for `linger` ms with `leaseLeft` ms of its lease left. */
    function parked(key: string, linger: number, leaseLeft: number): { pass: LocalPass; expire: jest.Mock } {
      const cohort = cohortOf(key);
      queue.hold(cohort, () => clock.now() + leaseLeft);
      const pass = cohort.pass(clock.now() + leaseLeft);
      const expire = jest.fn();
      queue.park(pass, linger, expire);
      return { pass, expire };
    }

    it('ends the hold and runs `expire` once when nobody took the lease within `linger`', async () => {
      const { expire } = parked('k', 50, 1_000);
      await clock.advance(49);
      expect(expire).not.toHaveBeenCalled();
      await clock.advance(1);
      expect(expire).toHaveBeenCalledTimes(1);
      await clock.advance(1_000);
      expect(expire).toHaveBeenCalledTimes(1);
      expect(queue.takeParked('k')).toBeUndefined();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('never keeps a lease parked past its lease end, whatever the linger', async () => {
      const { expire } = parked('k', 5_000, 30);
      await clock.advance(29);
      expect(expire).not.toHaveBeenCalled();
      await clock.advance(1);
      expect(expire).toHaveBeenCalledTimes(1);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('hands a parked lease to one taker only, and then never expires it', async () => {
      const { pass, expire } = parked('k', 50, 1_000);
      expect(queue.takeParked('k')).toBe(pass);
      expect(queue.takeParked('k')).toBeUndefined();
      expect(clock.pendingTimers).toBe(0);
      await clock.advance(100);
      expect(expire).not.toHaveBeenCalled();
      // The taker holds it now: the hold stands until the taker's lock ends.
      queue.end(pass.cohort);
      expect(queuedKeys(queue)).toBe(0);
    });

    it('has nothing to take for a key with no parked lease, and keeps no entry for asking', () => {
      expect(queue.takeParked('nothing')).toBeUndefined();
      expect(queuedKeys(queue)).toBe(0);
    });

    it('ends every parked lease at once at shutdown and returns their passes, without running `expire`', async () => {
      const a = parked('a', 50, 1_000);
      const b = parked('b', 50, 1_000);
      const stillHeld = cohortOf('c');
      queue.hold(stillHeld, () => clock.now() + 1_000);
      expect(queue.unparkAll()).toEqual([a.pass, b.pass]);
      expect(queue.takeParked('a')).toBeUndefined();
      expect(clock.pendingTimers).toBe(0);
      await clock.advance(100);
      expect(a.expire).not.toHaveBeenCalled();
      expect(b.expire).not.toHaveBeenCalled();
      // A key held (not parked) stays held: its holder ends it.
      expect(queuedKeys(queue)).toBe(1);
      queue.end(stillHeld);
      expect(queuedKeys(queue)).toBe(0);
      expect(queue.unparkAll()).toEqual([]);
    });
  });

  it('keeps nothing in its map once every turn is done and every hold ended', async () => {
    const cohort = cohortOf('k');
    queue.hold(cohort, () => clock.now() + 1_000);
    const first = await head('k');
    const second = observe(queue.turn('k', clock.now() + 60_000, NOT_ABORTED, busy));
    const waiting = observe(first.awaitPass(60_000, NOT_ABORTED));
    const semaphore = await queue.turn('s', clock.now() + 60_000, NOT_ABORTED, busy, 3);
    await clock.advance(10);
    expect(queuedKeys(queue)).toBe(2);
    queue.end(cohort);
    await settle();
    expect(waiting.settled).toBe(true);
    first.done();
    await settle();
    (second.value as LocalTurn).done();
    semaphore.done();
    expect(queuedKeys(queue)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

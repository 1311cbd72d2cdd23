import {
  LockNotAcquiredError,
  LockStoreUnavailableError,
  MemoryLockStore,
  type Lock,
  type LockShare,
  type LockStoreAcquireResult,
  type LockStoreGrant,
} from '../../lib';
import { Cohort } from '../../lib/core/acquisition/cohort';
import { LocalQueue } from '../../lib/core/acquisition/local-queue';
import { LockAcquisition, type AcquisitionContext } from '../../lib/core/acquisition/lock-acquisition';
import type { ResolvedLockOptions } from '../../lib/options/lock-options.validator';
import { clock as libraryClock } from '../../lib/utils/clock.util';
import { lockHandle, observe, queuedKeys, type Observed } from '../support/unit-fixtures';
import { settle, VirtualClock } from '../support/virtual-clock';

const HOLDER = 'unit@test:1/';
const COMMAND_TIMEOUT = 500;
const NOT_ABORTED = new AbortController().signal;

/** A call the store got: which, from which token, when (`clock.now()`), and the wait an attempt told it. */
interface StoreCall {
  readonly method: string;
  readonly token: string;
  readonly at: number;
  readonly wait?: number;
}

/**
 * A memory store whose answers a test can force: `down` (every call fails as an unreachable Redis does), or the
 * reply to the next attempt held back until the test lets it come, or lost (the command ran at once; the caller
 * hears of it late, or hears that the store did not answer, as a Redis command past its `commandTimeout`). Only an
 * attempt that may wait has its reply lost here: the store itself gives back what an attempt that does not wait took.
 * It logs every call.
 */
class ScriptedStore extends MemoryLockStore {
  down = false;
  readonly calls: StoreCall[] = [];
  private heldReply?: Promise<'answer' | 'lose'>;
  private leaveSilenced = false;
  private releaseSilenced = false;

  /** Holds back the reply to the next attempt: `answer` lets it come, `lose` makes it an unavailable store. */
  holdNextReply(): { answer(): void; lose(): void } {
    let settle!: (how: 'answer' | 'lose') => void;
    this.heldReply = new Promise((resolve) => (settle = resolve));
    return { answer: () => settle('answer'), lose: () => settle('lose') };
  }

  /** The attempts of the acquisitions under test (tokens of HOLDER), in order. */
  attempts(): StoreCall[] {
    return this.calls.filter((call) => call.method === 'acquire' && call.token.startsWith(HOLDER));
  }

  /** The calls the acquisitions under test made of `method`. */
  callsOf(method: string): StoreCall[] {
    return this.calls.filter((call) => call.method === method && call.token.startsWith(HOLDER));
  }

  override async acquire(
    keys: readonly string[],
    token: string,
    ttl: number,
    wait = 0,
    share?: LockShare,
  ): Promise<LockStoreAcquireResult> {
    this.record('acquire', token, wait);
    const result = await super.acquire(keys, token, ttl, wait, share);
    const held = this.heldReply;
    this.heldReply = undefined;
    if (held && (await held) === 'lose') {
      throw new LockStoreUnavailableError(`acquire ${JSON.stringify(keys)}`, new Error('no answer in time'));
    }
    return result;
  }

  /** The next leave is recorded (and done) but never answered, as by a Redis paused right then. */
  silenceNextLeave(): void {
    this.leaveSilenced = true;
  }

  override async leave(keys: readonly string[], token: string): Promise<void> {
    this.record('leave', token);
    await super.leave(keys, token);
    if (this.leaveSilenced) {
      this.leaveSilenced = false;
      await new Promise(() => undefined);
    }
  }

  /** The next release is recorded (and done) but never answered. */
  silenceNextRelease(): void {
    this.releaseSilenced = true;
  }

  override async release(...args: Parameters<MemoryLockStore['release']>): Promise<boolean> {
    this.record('release', args[1]);
    const released = await super.release(...args);
    if (this.releaseSilenced) {
      this.releaseSilenced = false;
      await new Promise(() => undefined);
    }
    return released;
  }

  override async extend(...args: Parameters<MemoryLockStore['extend']>): Promise<boolean> {
    this.record('extend', args[1]);
    return super.extend(...args);
  }

  override watch(...args: Parameters<MemoryLockStore['watch']>): ReturnType<MemoryLockStore['watch']> {
    this.calls.push({ method: 'watch', token: args[1], at: this.now() });
    return super.watch(...args);
  }

  /** How many release subscriptions are open. */
  get subscriptions(): number {
    return (this as unknown as { listeners: Map<string, unknown> }).listeners.size;
  }

  private record(method: string, token: string, wait?: number): void {
    this.calls.push({ method, token, at: this.now(), wait });
    if (this.down) {
      throw new LockStoreUnavailableError(method, new Error('switched off by the test'));
    }
  }

  private now(): number {
    return libraryClock.now();
  }
}

describe('LockAcquisition', () => {
  let clock: VirtualClock;
  let store: ScriptedStore;
  let queue: LocalQueue;
  let context: AcquisitionContext & { grant: jest.Mock; receive: jest.Mock };

  beforeEach(() => {
    clock = new VirtualClock();
    store = new ScriptedStore();
    queue = new LocalQueue();
    context = {
      store,
      queue,
      holder: HOLDER,
      commandTimeout: COMMAND_TIMEOUT,
      grant: jest.fn(
        (keys: readonly string[], token: string, granted: LockStoreGrant, options: ResolvedLockOptions, startedAt: number): Lock =>
          lockHandle(store, {
            keys,
            token,
            fencingToken: granted.fencingToken,
            ttl: options.ttl,
            lease: Math.min(options.ttl, granted.lease ?? options.ttl),
            autoExtend: options.autoExtend,
            startedAt,
            share: options.share,
          }),
      ),
      receive: jest.fn(async (pass: { cohort: Cohort; fencingToken: number; leaseEnd: number }, options: ResolvedLockOptions) =>
        lockHandle(store, {
          keys: [pass.cohort.key],
          token: pass.cohort.token,
          fencingToken: pass.fencingToken,
          ttl: options.ttl,
          lease: pass.leaseEnd - clock.now(),
        }),
      ),
      busy: (keys, askedAt) => new LockNotAcquiredError(keys, clock.now() - askedAt),
    };
  });

  afterEach(() => clock.uninstall());

  /** Starts one caller's acquisition of `key` (ttl 1000 ms, no watchdog unless told). */
  function acquire(
    waitTimeout: number,
    signal = NOT_ABORTED,
    overrides: Partial<ResolvedLockOptions> = {},
    keys = ['k'],
  ): Observed<Lock> & { promise: Promise<Lock> } {
    const options = { ttl: 1_000, waitTimeout, autoExtend: false, minHold: 0, ...overrides };
    const promise = new LockAcquisition(context, keys, options, waitTimeout, signal).run();
    return Object.assign(observe(promise), { promise });
  }

  /** Another instance holds `key` in the store. */
  async function heldElsewhere(key = 'k', ttl = 10_000, token = 'another-instance'): Promise<LockStoreGrant> {
    return (await store.acquire([key], token, ttl)) as LockStoreGrant;
  }

  /** A caller's cancellation: its signal, and the reason it aborts with. */
  function cancellation(): { signal: AbortSignal; cancel(): void; reason: Error } {
    const controller = new AbortController();
    const reason = new Error('cancelled by the caller');
    return { signal: controller.signal, cancel: () => controller.abort(reason), reason };
  }

  function expectNothingLeft(): void {
    expect(queuedKeys(queue)).toBe(0);
    expect(store.subscriptions).toBe(0);
  }

  describe('from the store', () => {
    it('takes a free key on its first attempt, telling the store how long a place in its queue would last, and keeps no watch or local entry', async () => {
      const taking = acquire(5_000);
      await settle();
      const lock = taking.value as Lock;
      expect(lock.token.startsWith(HOLDER)).toBe(true);
      // The rest of its wait, at most its ttl (1 s here) or 2 s: it would ask again before the place ran out.
      expect(store.attempts()).toEqual([expect.objectContaining({ token: lock.token, wait: 2_000 })]);
      expect(await store.extend(['k'], lock.token, 1_000)).toBe(true);
      expectNothingLeft();
      await lock.release();
    });

    it('tries once with waitTimeout 0: a busy key fails at once with the busy error, and nothing is queued or left', async () => {
      await heldElsewhere();
      const taking = acquire(0);
      await settle();
      expect(taking.error).toBeInstanceOf(LockNotAcquiredError);
      expect(store.attempts()).toEqual([expect.objectContaining({ wait: 0 })]);
      expect(store.callsOf('leave')).toEqual([]);
      expectNothingLeft();
    });

    it('waits for the holder’s release and takes the key the store hands it through the watch, without another attempt', async () => {
      const other = await heldElsewhere();
      const taking = acquire(5_000, NOT_ABORTED, { autoExtend: true });
      await clock.advance(200);
      expect(taking.settled).toBe(false);
      await store.release(['k'], 'another-instance');
      await settle();
      const lock = taking.value as Lock;
      expect(lock.fencingToken).toBeGreaterThan(other.fencingToken);
      expect(store.attempts()).toHaveLength(1);
      expect(await store.extend(['k'], lock.token, 1_000)).toBe(true);
      expectNothingLeft();
      await lock.release();
    });

    it('confirms a hand-off shorter than its ttl by another attempt when it has no watchdog: its lease then counts from that attempt', async () => {
      await heldElsewhere();
      const started = clock.now();
      const taking = acquire(5_000, NOT_ABORTED, { autoExtend: false, ttl: 3_000 });
      await clock.advance(2_500);
      // It asked again at 1.5 s to keep its place (3 s): the store hands it a lease capped at that place, 2 s.
      await store.release(['k'], 'another-instance');
      await settle();
      const lock = taking.value as Lock;
      expect(store.attempts().map((attempt) => attempt.at - started)).toEqual([0, 1_500, 2_500]);
      expect(lock.leaseEnd).toBe(started + 2_500 + 3_000);
      await lock.release();
      expectNothingLeft();
    });

    it('keeps its place in the store’s queue (its ttl, at least 2 s) by asking again within half of it while it waits', async () => {
      await heldElsewhere('k', 10_000);
      const taking = acquire(5_000, NOT_ABORTED, { ttl: 1_000 });
      await clock.advance(100);
      await store.acquire(['k'], 'later-instance', 10_000, 10_000);
      await clock.advance(2_900);
      const gaps = store
        .attempts()
        .slice(1)
        .map((attempt, i) => attempt.at - store.attempts()[i].at);
      expect(gaps.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000);
      await store.release(['k'], 'another-instance');
      await settle();
      const lock = taking.value as Lock;
      expect(await store.extend(['k'], lock.token, 1_000)).toBe(true);
      await lock.release();
      await store.leave(['k'], 'later-instance');
      expectNothingLeft();
    });

    it('gives up with the busy error at its deadline, not before, and leaves the store’s queue by its token', async () => {
      await heldElsewhere();
      const taking = acquire(300);
      await clock.advance(299);
      expect(taking.settled).toBe(false);
      await clock.advance(1);
      expect(taking.error).toBeInstanceOf(LockNotAcquiredError);
      expect((taking.error as LockNotAcquiredError).waited).toBe(300);
      const [attempt] = store.attempts();
      expect(store.callsOf('leave')).toEqual([expect.objectContaining({ token: attempt.token })]);
      expectNothingLeft();
    });

    it('gives up by its deadline plus one command timeout even when the store does not answer its leaving the queue', async () => {
      await heldElsewhere();
      store.silenceNextLeave();
      const taking = acquire(300);
      await clock.advance(300 + COMMAND_TIMEOUT);
      expect(taking.error).toBeInstanceOf(LockNotAcquiredError);
      expect(store.callsOf('leave')).toHaveLength(1);
    });

    it('rejects with the signal’s reason when aborted during the wait, and leaves the store’s queue: the key is not handed to it afterwards', async () => {
      await heldElsewhere();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(200);
      cancel();
      await settle();
      expect(taking.error).toBe(reason);
      expect(store.callsOf('leave')).toHaveLength(1);
      await store.release(['k'], 'another-instance');
      expect(await store.isLocked(['k'])).toBe(false);
      expectNothingLeft();
    });

    it('rejects by its abort plus one command timeout, not by its waitTimeout, when the store does not answer its leaving the queue', async () => {
      await heldElsewhere();
      store.silenceNextLeave();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(200);
      cancel();
      await clock.advance(COMMAND_TIMEOUT - 1);
      expect(taking.settled).toBe(false);
      await clock.advance(1);
      expect(taking.error).toBe(reason);
      expect(store.callsOf('leave')).toHaveLength(1);
    });

    it('rejects by its abort plus one command timeout when aborted during an attempt that takes the key, and the store does not answer the give-back', async () => {
      const reply = store.holdNextReply();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(20);
      cancel();
      await clock.advance(COMMAND_TIMEOUT - 100);
      store.silenceNextRelease();
      reply.answer();
      await clock.advance(99);
      expect(taking.settled).toBe(false);
      await clock.advance(1);
      expect(taking.error).toBe(reason);
      expect(await store.isLocked(['k'])).toBe(false);
      expect(context.grant).not.toHaveBeenCalled();
    });

    it('lets the process’s next caller ask the store by the abort plus one command timeout when the store does not answer the aborted waiter’s leave', async () => {
      await heldElsewhere();
      store.silenceNextLeave();
      const { signal, cancel } = cancellation();
      const first = acquire(5_000, signal);
      const second = acquire(8_000);
      await clock.advance(200);
      const [firstAttempt] = store.attempts();
      cancel();
      await clock.advance(COMMAND_TIMEOUT);
      expect(first.settled).toBe(true);
      const secondAttempts = store.attempts().filter((attempt) => attempt.token !== firstAttempt.token);
      expect(secondAttempts[0]?.at).toBe(firstAttempt.at + 200 + COMMAND_TIMEOUT);
      await store.release(['k'], 'another-instance');
      await clock.advance(10);
      expect(second.value?.isHeld).toBe(true);
      await second.value?.release();
      expectNothingLeft();
    });

    it('makes no new attempt (and takes no new place in the store’s queue) when its signal aborts while it waits for a release', async () => {
      await heldElsewhere();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(200);
      const before = store.attempts().length;
      cancel();
      await clock.advance(0);
      expect(taking.error).toBe(reason);
      expect(store.attempts().slice(before)).toEqual([]);
      expect(store.callsOf('leave')).toHaveLength(1);
    });

    it('touches neither the store nor the process’s line when the signal is already aborted', async () => {
      const reason = new Error('cancelled before the call');
      const taking = acquire(5_000, AbortSignal.abort(reason));
      await settle();
      expect(taking.error).toBe(reason);
      expect(store.calls).toEqual([]);
      expectNothingLeft();
    });

    it('gives the key straight back, and makes no lock of it, when cancelled while the winning attempt is on its way', async () => {
      const reply = store.holdNextReply();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(20);
      expect(await store.isLocked(['k'])).toBe(true);
      cancel();
      reply.answer();
      await settle();
      expect(taking.error).toBe(reason);
      expect(await store.isLocked(['k'])).toBe(false);
      expect(context.grant).not.toHaveBeenCalled();
      expectNothingLeft();
    });

    it('gives the key back when aborted just as the store hands it over through the watch', async () => {
      await heldElsewhere();
      const { signal, cancel, reason } = cancellation();
      const taking = acquire(5_000, signal);
      await clock.advance(200);
      // The hand-off reaches the watch, and the abort comes before the waiter runs again.
      void store.release(['k'], 'another-instance');
      cancel();
      await clock.advance(0);
      expect(taking.error).toBe(reason);
      expect(await store.isLocked(['k'])).toBe(false);
      expect(context.grant).not.toHaveBeenCalled();
      expectNothingLeft();
    });

    it('keeps a grant whose reply comes after its deadline: the store made it, and its lease counts from the attempt’s start', async () => {
      const reply = store.holdNextReply();
      const started = clock.now();
      const taking = acquire(200);
      await clock.advance(500);
      expect(taking.settled).toBe(false);
      reply.answer();
      await settle();
      const lock = taking.value as Lock;
      expect(lock.leaseEnd).toBe(started + 1_000);
      expect(lock.isHeld).toBe(true);
      await lock.release();
      expectNothingLeft();
    });
  });

  describe('with the store unreachable', () => {
    it('tries again every 100 ms and once more at its deadline, then fails with LockStoreUnavailableError and leaves by its token', async () => {
      store.down = true;
      const started = clock.now();
      const taking = acquire(350);
      await clock.advance(349);
      expect(taking.settled).toBe(false);
      await clock.advance(1);
      expect(taking.error).toBeInstanceOf(LockStoreUnavailableError);
      expect(store.attempts().map((attempt) => attempt.at - started)).toEqual([0, 100, 200, 300, 350]);
      expect(store.callsOf('leave')).toHaveLength(1);
      expectNothingLeft();
    });

    it('takes the key at the first attempt after the store answers again, before its deadline', async () => {
      store.down = true;
      const started = clock.now();
      const taking = acquire(5_000);
      await clock.advance(250);
      store.down = false;
      await clock.advance(50);
      const lock = taking.value as Lock;
      expect(lock.isHeld).toBe(true);
      expect(store.attempts().map((attempt) => attempt.at - started)).toEqual([0, 100, 200, 300]);
      await lock.release();
      expectNothingLeft();
    });

    it('fails at once with LockStoreUnavailableError with waitTimeout 0', async () => {
      store.down = true;
      const taking = acquire(0);
      await settle();
      expect(taking.error).toBeInstanceOf(LockStoreUnavailableError);
      expect(store.attempts()).toHaveLength(1);
      expectNothingLeft();
    });

    it('is granted the key its lost reply took when it tries again with the same token', async () => {
      const reply = store.holdNextReply();
      const taking = acquire(5_000);
      await clock.advance(50);
      reply.lose();
      await clock.advance(100);
      const lock = taking.value as Lock;
      const [first, second] = store.attempts();
      expect(second.token).toBe(first.token);
      expect(lock.token).toBe(first.token);
      expect(lock.isHeld).toBe(true);
      await lock.release();
      expect(await store.isLocked(['k'])).toBe(false);
      expectNothingLeft();
    });

    it('leaves the store’s queue by its token when the reply to its first waiting attempt is lost after its deadline: a key the attempt took is not left held', async () => {
      // The store ran the attempt (wait 200 ms) at once; the caller hears only that it did not answer, after its deadline.
      const reply = store.holdNextReply();
      const taking = acquire(200);
      await clock.advance(500);
      reply.lose();
      await settle();
      expect(taking.error).toBeInstanceOf(LockStoreUnavailableError);
      expect(store.callsOf('leave')).toHaveLength(1);
      expect(await store.isLocked(['k'])).toBe(false);
      expectNothingLeft();
    });
  });

  describe('inside the process', () => {
    /** The process holds `key` through a cohort over a store lease of `ttl` ms. */
    async function heldHere(key = 'k', ttl = 10_000): Promise<{ cohort: Cohort; leaseEnd: number }> {
      const granted = await heldElsewhere(key, ttl, 'process-holder');
      const cohort = new Cohort(key, 'process-holder', granted.fencingToken, 64, clock.now(), false);
      const leaseEnd = clock.now() + ttl;
      queue.hold(cohort, () => leaseEnd);
      return { cohort, leaseEnd };
    }

    it('lets only the first of the process’s callers ask the store; the next one asks once the first is done', async () => {
      await heldElsewhere();
      const first = acquire(5_000);
      const second = acquire(5_000);
      await clock.advance(1_000);
      const firstToken = store.attempts()[0].token;
      expect(store.attempts().every((attempt) => attempt.token === firstToken)).toBe(true);
      await store.release(['k'], 'another-instance');
      await clock.advance(10);
      const lock = first.value as Lock;
      expect(lock.token).toBe(firstToken);
      expect(second.settled).toBe(false);
      expect(store.attempts().some((attempt) => attempt.token !== firstToken)).toBe(true);
      await lock.release();
      await clock.advance(10);
      const next = second.value as Lock;
      expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      await next.release();
      expectNothingLeft();
    });

    it('lets `limit` callers of a semaphore ask the store at once, and the next one when a permit is released', async () => {
      const share: LockShare = { mode: 'permit', limit: 2 };
      const takings = [1, 2, 3].map(() => acquire(5_000, NOT_ABORTED, { share }));
      await clock.advance(10);
      expect(takings.map((taking) => taking.settled)).toEqual([true, true, false]);
      await (takings[0].value as Lock).release();
      await clock.advance(10);
      expect(takings[2].value?.isHeld).toBe(true);
      await (takings[1].value as Lock).release();
      await (takings[2].value as Lock).release();
      expectNothingLeft();
    });

    it('takes the lock the process’s holder passes on, without asking the store', async () => {
      const { cohort, leaseEnd } = await heldHere();
      const taking = acquire(5_000);
      await clock.advance(50);
      expect(taking.settled).toBe(false);
      const pass = cohort.pass(leaseEnd);
      expect(queue.passOn('k', () => pass)).toBe(true);
      await settle();
      const lock = taking.value as Lock;
      expect(context.receive).toHaveBeenCalledWith(pass, expect.objectContaining({ ttl: 1_000 }), expect.any(Number));
      expect(lock.token).toBe('process-holder');
      expect(lock.fencingToken).toBe(pass.fencingToken);
      expect(store.attempts()).toEqual([]);
      queue.end(cohort);
      expectNothingLeft();
    });

    it('asks the store when the process’s holder’s lease ends without a pass', async () => {
      const { cohort } = await heldHere('k', 300);
      const started = clock.now();
      const taking = acquire(5_000);
      await clock.advance(299);
      expect(store.attempts()).toEqual([]);
      await clock.advance(1);
      const lock = taking.value as Lock;
      expect(store.attempts().map((attempt) => attempt.at - started)).toEqual([300]);
      expect(lock.token.startsWith(HOLDER)).toBe(true);
      queue.end(cohort);
      await lock.release();
      expectNothingLeft();
    });

    it('fails with the busy error at its deadline while waiting for a pass, without asking the store', async () => {
      const { cohort } = await heldHere();
      const taking = acquire(300);
      await clock.advance(299);
      expect(taking.settled).toBe(false);
      await clock.advance(1);
      expect(taking.error).toBeInstanceOf(LockNotAcquiredError);
      expect(store.attempts()).toEqual([]);
      queue.end(cohort);
      expectNothingLeft();
    });

    it('takes a lease parked for the process’s next caller at once, even without a wait', async () => {
      const { cohort, leaseEnd } = await heldHere();
      const pass = cohort.pass(leaseEnd);
      queue.park(pass, 50, () => undefined);
      const taking = acquire(0);
      await settle();
      const lock = taking.value as Lock;
      expect(lock.fencingToken).toBe(pass.fencingToken);
      expect(context.receive).toHaveBeenCalledWith(pass, expect.objectContaining({ ttl: 1_000 }), expect.any(Number));
      expect(store.attempts()).toEqual([]);
      queue.end(cohort);
      expectNothingLeft();
    });

    it('asks the store when the pass it got cannot be used', async () => {
      const cohort = new Cohort('k', 'ended-lease', 1, 64, clock.now(), true);
      queue.hold(cohort, () => clock.now() + 1_000);
      queue.park(cohort.pass(clock.now() + 1_000), 50, () => undefined);
      context.receive.mockImplementationOnce(async () => {
        // As the hand-off does when its renewal fails: the hold ends, and the lease goes back.
        queue.end(cohort);
        return undefined;
      });
      const taking = acquire(0);
      await settle();
      const lock = taking.value as Lock;
      expect(lock.token.startsWith(HOLDER)).toBe(true);
      expect(store.attempts()).toHaveLength(1);
      await lock.release();
      expectNothingLeft();
    });
  });
});

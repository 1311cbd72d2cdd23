import { setTimeout as sleep } from 'node:timers/promises';
import { LockNotAcquiredError, LockStoreUnavailableError, type Lock, type LockModuleOptions } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { useRedisServer } from '../support/redis-server';

/** Blocks the event loop for `ms`: no timer, no I/O, no watchdog runs (a long GC pause, a CPU-bound handler). */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

// The lock passed between callers of one app (cohort, parked lease) rests on one Redis lease: nothing of it may be
// handed to a caller once that lease may have ended, or outlive it, and a minimum hold holds against the app too.
describe('the hand-off inside an app never outlives the lease it rests on', () => {
  const own = useRedisServer();
  const apps: LockApp[] = [];

  async function app(options: LockModuleOptions = {}): Promise<LockApp> {
    const booted = await bootLockApp({ redis: own.server.url, ...options });
    apps.push(booted);
    return booted;
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.app.close()));
    await own.redis.flushall();
  });

  /** `subject` holds `key` after a wait behind another app (so the key counts as contended). */
  async function contendedHolder(subject: LockApp, key: string, options = {}): Promise<Lock> {
    const other = await app({ cohort: false });
    const first = await other.locks.acquire(key);
    const waiting = subject.locks.acquire(key, { waitTimeout: 5_000, ...options });
    await sleep(20);
    await first.release();
    return waiting;
  }

  it('does not hand a parked lease to the app’s next caller after a stall past the lease: another instance holds the key by then', async () => {
    const subject = await app({ cohort: { linger: 100 } });
    const other = await app();
    await other.locks.isLocked('connected');
    const parked = await contendedHolder(subject, 'stalled-park', { ttl: 300 });
    await parked.release();
    stall(500);
    // Both ask at once, before any timer of the process runs: only one may come out holding the key.
    const [here, elsewhere] = await Promise.all([
      subject.locks.tryAcquire('stalled-park', { ttl: 300 }),
      other.locks.tryAcquire('stalled-park', { ttl: 300 }),
    ]);
    const holders = [here, elsewhere].filter((lock) => lock?.isHeld);
    expect(holders).toHaveLength(1);
    expect(await own.redis.get('lock:{stalled-park}')).toBe(holders[0]?.token);
    if (here?.isHeld) {
      expect(here.fencingToken).toBeGreaterThan(parked.fencingToken + 62);
    }
    await Promise.all([here?.release(), elsewhere?.release()]);
  });

  it('gives the caller a passed lock with what is left of the lease when it gets it, not when it was passed: a stall in between ends it', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const other = await app();
    await other.locks.isLocked('connected');
    const holder = await subject.locks.acquire('stalled-pass', { ttl: 200 });
    let passed: Lock | undefined;
    const next = subject.locks.acquire('stalled-pass', { ttl: 200, waitTimeout: 5_000 }).then((lock) => (passed = lock));
    await sleep(20);
    await holder.release();
    // The pass is on its way to the next caller when the process stalls past the lease.
    stall(400);
    // Whoever asks Redis first after the stall gets the key: the other app, or this app's next caller asking anew.
    const elsewhere = await other.locks.tryAcquire('stalled-pass');
    await sleep(50);
    if (elsewhere) {
      expect(passed?.isHeld ?? false).toBe(false);
      expect(await own.redis.get('lock:{stalled-pass}')).toBe(elsewhere.token);
      await elsewhere.release();
      const lock = await next;
      expect(lock.fencingToken).toBeGreaterThan(elsewhere.fencingToken);
      await lock.release();
    } else {
      // Not the pass the stall ran out (the block's next token), but a grant of its own from Redis.
      const lock = await next;
      expect(lock.fencingToken).toBeGreaterThan(holder.fencingToken + 1);
      expect(await own.redis.get('lock:{stalled-pass}')).toBe(lock.token);
      await lock.release();
    }
  });

  it('does not pass a lock released after its lease ran out during a stall: the next caller asks Redis', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const holder = await subject.locks.acquire('ran-out-held', { ttl: 200 });
    const next = subject.locks.acquire('ran-out-held', { ttl: 200, waitTimeout: 2_000 });
    await sleep(20);
    stall(400);
    await holder.release();
    const lock = await next;
    expect(lock.token).not.toBe(holder.token);
    expect(lock.fencingToken).toBeGreaterThan(holder.fencingToken + 62);
    await lock.release();
  });

  it('passes nothing of a lease that an extension still in flight may have shortened in Redis', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const other = await app();
    await other.locks.isLocked('connected');
    const holder = await subject.locks.acquire('shortened', { ttl: 3_000 });
    const next = subject.locks.acquire('shortened', { ttl: 3_000, waitTimeout: 5_000 });
    await sleep(20);
    void holder.extend(100).catch(() => undefined);
    await holder.release();
    const passed = await next;
    await sleep(250);
    const elsewhere = await other.locks.tryAcquire('shortened');
    expect([passed.isHeld, elsewhere?.isHeld ?? false]).not.toEqual([true, true]);
    expect(await own.redis.get('lock:{shortened}')).toBe(passed.isHeld ? passed.token : elsewhere?.token);
    await Promise.all([passed.release(), elsewhere?.release()]);
  });

  it('gives up a parked lease whose renewal the store does not answer within one command timeout', async () => {
    const subject = await app({ cohort: { linger: 2_000, duration: 60_000 }, commandTimeout: 500 });
    const parked = await contendedHolder(subject, 'frozen-park');
    await parked.release();
    expect(await own.redis.get('lock:{frozen-park}')).toBe(parked.token);
    await own.redis.client('PAUSE', 1_500, 'WRITE');
    const started = performance.now();
    const outcome = await subject.locks.tryAcquire('frozen-park', { autoExtend: false }).catch((error: unknown) => error);
    const took = performance.now() - started;
    expect(outcome).toBeInstanceOf(LockStoreUnavailableError);
    // One command timeout (the renewal), not two (the renewal, then an attempt at the store).
    expect(took).toBeLessThan(900);
    await own.redis.client('UNPAUSE');
  });

  it('lets the app’s next caller have a key whose lease ran out here before its release (it used to wait for a pass that never came)', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const lock = await subject.locks.acquire('ran-out', { ttl: 200, autoExtend: false });
    stall(300);
    await lock.release();
    const next = await subject.locks.acquire('ran-out', { waitTimeout: 1_000 }).catch((error: unknown) => error);
    expect(next).not.toBeInstanceOf(LockNotAcquiredError);
    await (next as Lock).release();
  });

  it('keeps the key from the app’s own callers for the minimum hold, as from everyone else', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const lock = await subject.locks.acquire('min-hold', { minHold: 1_000 });
    let passedAt: number | undefined;
    const next = subject.locks.acquire('min-hold', { waitTimeout: 5_000 }).then((passed) => {
      passedAt = performance.now();
      return passed;
    });
    await sleep(20);
    const releasedAt = performance.now();
    await lock.release();
    await sleep(300);
    expect(passedAt).toBeUndefined();
    const passed = await next;
    expect((passedAt as number) - releasedAt).toBeGreaterThan(900);
    await passed.release();
  });

  it('passes the lock to a caller without a watchdog after renewing the lease to that caller’s ttl', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const holder = await subject.locks.acquire('renewed', { ttl: 300 });
    const next = subject.locks.acquire('renewed', { autoExtend: false, ttl: 5_000 });
    await sleep(50);
    await holder.release();
    const lock = await next;
    expect(lock.token).toBe(holder.token);
    expect(lock.fencingToken).toBe(holder.fencingToken + 1);
    expect(await own.redis.pttl('lock:{renewed}')).toBeGreaterThan(4_000);
    await sleep(400);
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });
});

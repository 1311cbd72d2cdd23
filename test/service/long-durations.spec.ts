import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidLockOptionsError, type LockEvent } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { useTestRedis } from '../support/redis';

/** Four times the longest delay one Node setTimeout honours (2^31 - 1 ms, about 24.9 days). */
const BEYOND_TIMERS = 2 ** 33;

describe('durations beyond what one Node timer can hold', () => {
  const test = useTestRedis('long-durations');
  let subject: LockApp;
  let warnings: Error[];
  let events: LockEvent[];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };

  beforeEach(async () => {
    warnings = [];
    events = [];
    process.on('warning', onWarning);
    subject = await bootLockApp({ prefix: test.prefix });
    subject.locks.events.subscribe((event) => events.push(event));
  });

  afterEach(async () => {
    await subject.app.close();
    process.off('warning', onWarning);
  });

  it('holds a lock with a ttl of 2^33 ms without reporting it lost or extending it in a loop', async () => {
    const lock = await subject.locks.acquire('long-ttl', { ttl: BEYOND_TIMERS });
    await sleep(300);
    expect(lock.signal.aborted).toBe(false);
    expect(lock.isHeld).toBe(true);
    expect(events.filter((event) => event.type === 'extended')).toEqual([]);
    expect(await test.redis.pttl(`${test.prefix}{long-ttl}`)).toBeGreaterThan(BEYOND_TIMERS - 5_000);
    expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
    await lock.release();
  });

  it('holds a lock with a ttl of 2^33 ms and autoExtend off without reporting it lost', async () => {
    const lock = await subject.locks.acquire('long-ttl-fixed', { ttl: BEYOND_TIMERS, autoExtend: false });
    await sleep(200);
    expect(lock.signal.aborted).toBe(false);
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });

  it('accepts the ttl peers test with, floor(MAX_SAFE_INTEGER / 10) ms', async () => {
    const ttl = Math.floor(Number.MAX_SAFE_INTEGER / 10);
    const lock = await subject.locks.acquire('huge-ttl', { ttl });
    expect(lock.expiresAt).toBeGreaterThan(Date.now() + ttl - 5_000);
    expect(await test.redis.pttl(`${test.prefix}{huge-ttl}`)).toBeGreaterThan(ttl - 5_000);
    await sleep(100);
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });

  it.each([
    ['2^33 ms', BEYOND_TIMERS],
    ['Infinity (wait forever)', Number.POSITIVE_INFINITY],
  ])('keeps a waiter with a waitTimeout of %s waiting until the lock is released', async (_name, waitTimeout) => {
    const holder = await subject.locks.acquire('long-wait');
    const other = await bootLockApp({ prefix: test.prefix });
    try {
      let settled = false;
      const waiting = other.locks.acquire('long-wait', { waitTimeout }).finally(() => (settled = true));
      await sleep(300);
      expect(settled).toBe(false);
      await holder.release();
      const lock = await waiting;
      expect(lock.isHeld).toBe(true);
      await lock.release();
      expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      await other.app.close();
    }
  });

  it.each([
    ['ttl', { ttl: Number.MAX_SAFE_INTEGER + 1 }, /ttl must be a whole number of ms from 10 to 9007199254740991/],
    ['ttl', { ttl: Number.POSITIVE_INFINITY }, /ttl must be a whole number of ms from 10 to 9007199254740991/],
    [
      'waitTimeout',
      { waitTimeout: Number.MAX_SAFE_INTEGER + 1 },
      /waitTimeout must be a whole number of ms from 0 to 9007199254740991, or Infinity/,
    ],
  ])('refuses a %s beyond the safe integers, naming the limit', async (_name, options, message) => {
    const error = await subject.locks.acquire('too-long', options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(message);
  });
});

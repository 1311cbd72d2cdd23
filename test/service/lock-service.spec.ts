import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { firstValueFrom, filter, lastValueFrom, NEVER, retry } from 'rxjs';
import {
  InvalidLockOptionsError,
  Lock,
  LockError,
  LockLostError,
  LockNotAcquiredError,
  LockStoreUnavailableError,
  MemoryLockStore,
} from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { DEAD_REDIS_URL, deleteKeysUnder, keysUnder, redisClient, uniquePrefix } from '../support/redis';

describe('LockService', () => {
  let redis: Redis;
  let prefix: string;
  let subject: LockApp;
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(() => {
    redis = redisClient();
  });

  afterAll(async () => {
    await redis.quit();
  });

  beforeEach(async () => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
    prefix = uniquePrefix('service');
    subject = await bootLockApp({ prefix, ttl: 1000, waitTimeout: 1000 });
  });

  afterEach(async () => {
    await subject.app.close();
    await deleteKeysUnder(redis, prefix);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  describe('acquire', () => {
    it('returns a handle with keys, token, fencing token, expiry and a live signal', async () => {
      const before = Date.now();
      const lock = await subject.locks.acquire('order:1');
      expect(lock).toBeInstanceOf(Lock);
      expect(lock.keys).toEqual(['order:1']);
      expect(lock.token).toMatch(new RegExp(`^[\\w.-]+@[\\w.-]+:${process.pid}/[0-9a-f-]{36}$`));
      expect(Number.isSafeInteger(lock.fencingToken)).toBe(true);
      expect(lock.expiresAt).toBeGreaterThanOrEqual(before + 1000 - 5);
      expect(lock.expiresAt).toBeLessThanOrEqual(Date.now() + 1000);
      expect(lock.isHeld).toBe(true);
      expect(lock.signal.aborted).toBe(false);
      expect(await redis.get(`${prefix}{order:1}`)).toBe(lock.token);
      await lock.release();
    });

    it('gives every acquisition its own token and a higher fencing token', async () => {
      const first = await subject.locks.acquire('k');
      await first.release();
      const second = await subject.locks.acquire('k');
      expect(second.token).not.toBe(first.token);
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      await second.release();
    });

    it('wakes a waiter when the holder releases, long before the holder’s lease ends', async () => {
      const holder = await subject.locks.acquire('k', { ttl: 20_000 });
      const waiting = subject.locks.acquire('k', { waitTimeout: 10_000 });
      await sleep(100);
      const releasedAt = Date.now();
      await holder.release();
      const next = await waiting;
      expect(Date.now() - releasedAt).toBeLessThan(1000);
      expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
      await next.release();
    });

    it('takes over a lock whose holder let its lease run out', async () => {
      await subject.locks.acquire('k', { ttl: 200, autoExtend: false });
      const next = await subject.locks.acquire('k', { waitTimeout: 2000 });
      expect(next.isHeld).toBe(true);
      await next.release();
    });

    it('rejects with LockNotAcquiredError naming the key and the wait when the lock stays busy', async () => {
      const holder = await subject.locks.acquire('busy');
      const error = await subject.locks.acquire('busy', { waitTimeout: 150 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      expect((error as LockNotAcquiredError).keys).toEqual(['busy']);
      expect((error as LockNotAcquiredError).waited).toBeGreaterThanOrEqual(140);
      expect((error as Error).message).toMatch(/"busy".*busy for \d+ ms/);
      expect((error as LockNotAcquiredError).getStatus()).toBe(409);
      await holder.release();
    });

    it('stops waiting when the signal aborts, with the signal’s reason', async () => {
      const holder = await subject.locks.acquire('k');
      const controller = new AbortController();
      const waiting = subject.locks.acquire('k', { waitTimeout: 10_000, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('caller gave up')), 50);
      await expect(waiting).rejects.toThrow('caller gave up');
      await holder.release();
      expect(await subject.locks.isLocked('k')).toBe(false);
    });

    it('takes several keys all or nothing', async () => {
      const b = await subject.locks.acquire('b');
      expect(await subject.locks.tryAcquire(['a', 'b'])).toBeNull();
      expect(await subject.locks.isLocked('a')).toBe(false);
      await b.release();
      const both = await subject.locks.acquire(['a', 'b']);
      expect(both.keys).toEqual(['a', 'b']);
      expect(await subject.locks.isLocked('a')).toBe(true);
      expect(await subject.locks.isLocked('b')).toBe(true);
      expect(await both.release()).toBe(true);
    });
  });

  describe('minHold', () => {
    it('keeps the key taken until minHold has passed since the grant, then frees it', async () => {
      const lock = await subject.locks.acquire('held-a-while', { minHold: 400 });
      const grantedAt = Date.now();
      expect(await lock.release()).toBe(true);
      expect(lock.isHeld).toBe(false);
      expect(await subject.locks.tryAcquire('held-a-while')).toBeNull();
      const pttl = await redis.pttl(`${prefix}{held-a-while}`);
      expect(pttl).toBeGreaterThan(300);
      expect(pttl).toBeLessThanOrEqual(400);
      const next = await subject.locks.acquire('held-a-while', { waitTimeout: 2_000 });
      expect(Date.now() - grantedAt).toBeGreaterThanOrEqual(390);
      await next.release();
    });

    it('wakes a waiter when the minimum hold ends, not when the released holder’s lease would have', async () => {
      const holder = await subject.locks.acquire('kept', { ttl: 20_000, minHold: 300 });
      const waiting = subject.locks.acquire('kept', { waitTimeout: 10_000 });
      await sleep(50);
      const releasedAt = Date.now();
      await holder.release();
      const next = await waiting;
      expect(Date.now() - releasedAt).toBeLessThan(1_000);
      expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
      await next.release();
    });

    it('releases at once when minHold has already passed', async () => {
      const lock = await subject.locks.acquire('long-done', { minHold: 50 });
      await sleep(80);
      await lock.release();
      expect(await subject.locks.isLocked('long-done')).toBe(false);
    });

    it('never keeps a lock that another holder took over meanwhile', async () => {
      const lock = await subject.locks.acquire('taken-over', { minHold: 60_000, autoExtend: false });
      await redis.set(`${prefix}{taken-over}`, 'someone-else', 'PX', 5_000);
      expect(await lock.release()).toBe(false);
      expect(await redis.pttl(`${prefix}{taken-over}`)).toBeLessThanOrEqual(5_000);
      expect(await redis.get(`${prefix}{taken-over}`)).toBe('someone-else');
    });
  });

  describe('tryAcquire', () => {
    it('returns null at once when the lock is busy, and a lock when it is free', async () => {
      const holder = await subject.locks.acquire('k', { ttl: 5000 });
      const started = Date.now();
      expect(await subject.locks.tryAcquire('k')).toBeNull();
      expect(Date.now() - started).toBeLessThan(500);
      await holder.release();
      const lock = await subject.locks.tryAcquire('k');
      expect(lock?.isHeld).toBe(true);
      await lock?.release();
    });
  });

  describe('using', () => {
    it('resolves with the work’s result when the lock was force-released during the work, and the signal told the work', async () => {
      const result = await subject.locks.using('force-released', async (lock) => {
        await redis.del(`${prefix}{force-released}`);
        await lock.extend().catch(() => undefined);
        return lock.signal.aborted ? 'told' : 'not told';
      });
      expect(result).toBe('told');
    });

    it('runs the function under the lock and releases it afterwards', async () => {
      const result = await subject.locks.using('k', async (lock) => {
        expect(await subject.locks.isLocked('k')).toBe(true);
        return lock.fencingToken;
      });
      expect(typeof result).toBe('number');
      expect(await subject.locks.isLocked('k')).toBe(false);
    });

    it('is re-entrant only within one app: another app in the same call chain must take the lock itself', async () => {
      const other = await bootLockApp({ prefix });
      try {
        await subject.locks.using('shared', async (outer) => {
          expect(subject.locks.current('shared')).toBe(outer);
          expect(other.locks.current()).toBeUndefined();
          await expect(other.locks.using('shared', async () => 'entered', { waitTimeout: 0 })).rejects.toBeInstanceOf(LockNotAcquiredError);
          await other.locks.using('elsewhere', async (inner) => {
            expect(other.locks.current()).toBe(inner);
            expect(subject.locks.current()).toBe(outer);
            expect(await subject.locks.using('shared', async (again) => again)).toBe(outer);
          });
        });
      } finally {
        await other.app.close();
      }
    });

    it('releases the lock when the function throws, and rethrows its error', async () => {
      await expect(
        subject.locks.using('k', () => {
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      expect(await subject.locks.isLocked('k')).toBe(false);
    });

    it('settles with the function’s outcome when the release fails, and logs the failed release', async () => {
      const store = new MemoryLockStore();
      store.release = () => Promise.reject(new Error('release failed'));
      const warnings: string[] = [];
      const logger = { log: () => undefined, error: () => undefined, warn: (message: string) => warnings.push(message) };
      const failing = await bootLockApp({ store, logger });
      const error = await failing.locks.using('k', () => Promise.reject(new Error('work failed first'))).catch((e: unknown) => e);
      expect((error as Error).message).toBe('work failed first');
      await expect(failing.locks.using('k2', () => 'done')).resolves.toBe('done');
      expect(warnings).toEqual([
        expect.stringMatching(/Could not release lock \["k"\] after its work ended \(release failed\); the work's outcome stands/),
        expect.stringMatching(/Could not release lock \["k2"\] after its work ended \(release failed\)/),
      ]);
      await failing.app.close();
    });

    it('keeps extending the lease while the work outlives the ttl', async () => {
      const seen = await subject.locks.using(
        'k',
        async (lock) => {
          await sleep(700);
          return { held: lock.isHeld, aborted: lock.signal.aborted, pttl: await redis.pttl(`${prefix}{k}`) };
        },
        { ttl: 200 },
      );
      expect(seen.held).toBe(true);
      expect(seen.aborted).toBe(false);
      expect(seen.pttl).toBeGreaterThan(0);
    });
  });

  describe('stream', () => {
    const released = (key: string): Promise<unknown> =>
      firstValueFrom(subject.locks.events.pipe(filter((event) => event.type === 'released' && event.keys[0] === key)));

    it('on an unsubscription before a Promise factory settles, aborts the signal and holds the lock until it settles', async () => {
      let started = (_lock: Lock): void => undefined;
      const entered = new Promise<Lock>((resolve) => (started = resolve));
      let finish = (): void => undefined;
      const work = new Promise<string>((resolve) => (finish = () => resolve('done')));
      const subscription = subject.locks
        .stream('promised', (lock) => {
          started(lock);
          return work;
        })
        .subscribe();
      const lock = await entered;
      subscription.unsubscribe();
      expect(lock.signal.aborted).toBe(true);
      expect(lock.signal.reason).toBeInstanceOf(LockError);
      expect((lock.signal.reason as Error).message).toMatch(/\["promised"\] was unsubscribed .* while its work still ran/);
      expect(lock.isHeld).toBe(true);
      expect(await subject.locks.tryAcquire('promised')).toBeNull();
      const gone = released('promised');
      finish();
      await gone;
      expect(await subject.locks.isLocked('promised')).toBe(false);
    });

    it('takes the lock again for each subscription: a retry after the work failed runs under a new lock', async () => {
      const tokens: number[] = [];
      const result = await lastValueFrom(
        subject.locks
          .stream('retried', async (lock) => {
            tokens.push(lock.fencingToken);
            await sleep(1);
            if (tokens.length === 1) {
              throw new Error('first attempt fails');
            }
            return subject.locks.current('retried') === lock && lock.isHeld;
          })
          .pipe(retry(1)),
      );
      expect(result).toBe(true);
      expect(tokens[1]).toBeGreaterThan(tokens[0]);
    });

    it('on an unsubscription of an Observable factory, releases at once: the unsubscription stopped the work', async () => {
      let started = (_lock: Lock): void => undefined;
      const entered = new Promise<Lock>((resolve) => (started = resolve));
      const subscription = subject.locks
        .stream('observed', (lock) => {
          started(lock);
          return NEVER;
        })
        .subscribe();
      const lock = await entered;
      const gone = released('observed');
      subscription.unsubscribe();
      await gone;
      expect(lock.signal.aborted).toBe(false);
      expect(await subject.locks.isLocked('observed')).toBe(false);
    });
  });

  describe('Lock', () => {
    it('release is idempotent and never deletes another holder’s key', async () => {
      const first = await subject.locks.acquire('k', { ttl: 100, autoExtend: false });
      await sleep(150);
      const second = await subject.locks.acquire('k');
      expect(await first.release()).toBe(false);
      expect(await redis.get(`${prefix}{k}`)).toBe(second.token);
      expect(await second.release()).toBe(true);
      expect(await second.release()).toBe(false);
    });

    it('extend resets the lease and rejects with LockLostError once the key is gone, without re-creating it', async () => {
      const lock = await subject.locks.acquire('k', { ttl: 300, autoExtend: false });
      await lock.extend(5000);
      expect(await redis.pttl(`${prefix}{k}`)).toBeGreaterThan(4000);
      await redis.del(`${prefix}{k}`);
      await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
      expect(lock.signal.aborted).toBe(true);
      expect(lock.signal.reason).toBeInstanceOf(LockLostError);
      expect(await redis.exists(`${prefix}{k}`)).toBe(0);
    });

    it('aborts its signal when the watchdog finds the lock taken over', async () => {
      const lock = await subject.locks.acquire('k', { ttl: 300 });
      await redis.set(`${prefix}{k}`, 'someone-else', 'PX', 5000);
      await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
      expect(lock.signal.reason).toBeInstanceOf(LockLostError);
      expect(lock.isHeld).toBe(false);
      expect(await redis.get(`${prefix}{k}`)).toBe('someone-else');
      expect(await lock.release()).toBe(false);
    });

    it('aborts its signal when its lease runs out without autoExtend', async () => {
      const lock = await subject.locks.acquire('k', { ttl: 150, autoExtend: false });
      await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
      expect((lock.signal.reason as Error).message).toMatch(/lease of 150 ms ran out/);
      expect(lock.isHeld).toBe(false);
    });

    it('does not report a loss when released while an extension is in flight', async () => {
      for (let i = 0; i < 20; i += 1) {
        const lock = await subject.locks.acquire('k', { ttl: 30 });
        await sleep(10 + (i % 5));
        const released = await lock.release();
        // On a loaded machine the 30 ms lease may run out here first: that loss is real, and release() says so.
        expect({ released, lost: lock.signal.aborted }).not.toEqual({ released: true, lost: true });
      }
    });
  });

  describe('bad input', () => {
    const badKeys: Array<[string, unknown]> = [
      ['empty', ''],
      ['blank', '   '],
      ['a number', 42],
      ['undefined', undefined],
      ['an object', { id: 1 }],
      ['over 1024 bytes', 'é'.repeat(600)],
      ['an empty array', []],
      ['an array with a bad key', ['ok', '']],
    ];
    it.each(badKeys)('rejects a key that is %s with InvalidLockOptionsError, touching nothing in Redis', async (_, key) => {
      await expect(subject.locks.acquire(key as string)).rejects.toBeInstanceOf(InvalidLockOptionsError);
      await expect(subject.locks.tryAcquire(key as string)).rejects.toBeInstanceOf(InvalidLockOptionsError);
      await expect(subject.locks.using(key as string, () => 1)).rejects.toBeInstanceOf(InvalidLockOptionsError);
      expect(await keysUnder(redis, prefix)).toEqual([]);
    });

    const badOptions: Array<[string, object]> = [
      ['ttl 0', { ttl: 0 }],
      ['ttl below 10 ms', { ttl: 5 }],
      ['fractional ttl', { ttl: 10.5 }],
      ['NaN ttl', { ttl: Number.NaN }],
      ['Infinity ttl', { ttl: Number.POSITIVE_INFINITY }],
      ['string ttl', { ttl: '1000' }],
      ['negative waitTimeout', { waitTimeout: -1 }],
      ['NaN waitTimeout', { waitTimeout: Number.NaN }],
      ['non-boolean autoExtend', { autoExtend: 'yes' }],
      ['unknown option', { tll: 1000 }],
    ];
    it.each(badOptions)('rejects %s with InvalidLockOptionsError naming the option', async (_, options) => {
      const error = await subject.locks.acquire('k', options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidLockOptionsError);
      expect((error as Error).message).toMatch(new RegExp(Object.keys(options)[0]));
      expect(await keysUnder(redis, prefix)).toEqual([]);
    });
  });

  describe('with Redis unreachable', () => {
    it('rejects acquire within waitTimeout plus one command timeout, saying Redis was unreachable', async () => {
      const dead = await bootLockApp({ redis: DEAD_REDIS_URL, commandTimeout: 200 });
      const started = Date.now();
      const error = await dead.locks.acquire('k', { waitTimeout: 500 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(500 + 200 + 300);
      expect(error).toBeInstanceOf(LockStoreUnavailableError);
      expect(error).not.toBeInstanceOf(LockNotAcquiredError);
      expect((error as Error).message).toMatch(/unreachable/);
      await expect(dead.locks.tryAcquire('k')).rejects.toBeInstanceOf(LockStoreUnavailableError);
      await dead.app.close();
    });
  });
});

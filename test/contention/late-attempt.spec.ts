import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisLockStore } from '../../lib';
import { CLASSIC_LEAVE_SCRIPT } from '../../lib/stores/redis/redis-leave.scripts';
import { MULTI_ACQUIRE, MUTEX_ACQUIRE } from '../../lib/stores/redis/redis-mutex.scripts';
import { bootLockApp, type LockApp } from '../support/app';
import { useRedisServer } from '../support/redis-server';

/**
 * A client whose first acquire replies (`lateReplies` of them) come back late (a slow event loop, a paused process)
 * and whose leave scripts reach Redis late (a connection being re-established).
 */
function lateClient(url: string, replyLateBy: number, leaveLateBy: number, lateReplies = 1, acquireSha = MUTEX_ACQUIRE.sha): Redis {
  const client = new Redis(url);
  let acquires = 0;
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === 'evalsha' && typeof value === 'function') {
        return async (sha: string, ...rest: unknown[]) => {
          const call = (): unknown => (value as (...args: unknown[]) => unknown).call(target, sha, ...rest);
          if (sha === acquireSha && (acquires += 1) <= lateReplies) {
            const reply = await call();
            await sleep(replyLateBy);
            return reply;
          }
          if (sha === CLASSIC_LEAVE_SCRIPT.sha) {
            await sleep(leaveLateBy);
          }
          return call();
        };
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('an attempt that timed out while the lock was handed to its waiter', () => {
  const own = useRedisServer();
  const apps: LockApp[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((booted) => booted.app.close()));
  });

  it('never frees the lock the same wait holds afterwards: nobody else gets it while the waiter holds it', async () => {
    const [holderApp, otherApp] = await Promise.all([bootLockApp({ redis: own.server.url }), bootLockApp({ redis: own.server.url })]);
    apps.push(holderApp, otherApp);
    const client = lateClient(own.server.url, 400, 400);
    const store = new RedisLockStore({ client, commandTimeout: 150, logger: false });
    const waiterApp = await bootLockApp({ store });
    apps.push(waiterApp);
    const holder = await holderApp.locks.acquire('handed', { ttl: 30_000 });

    // The waiter's first attempt queues it in Redis, but its answer comes after the command timeout.
    const waiting = waiterApp.locks.acquire('handed', { waitTimeout: 10_000, ttl: 30_000 });
    await sleep(50);
    // The release hands the lock to the queued waiter; its retry after the timeout finds the lock its own.
    await holder.release();
    const lock = await waiting;
    // Whatever the timed-out attempt left to clean up reaches Redis now: the lock must stay the waiter's.
    await sleep(600);
    expect(lock.isHeld).toBe(true);
    await expect(otherApp.locks.tryAcquire('handed')).resolves.toBeNull();
    await expect(lock.extend()).resolves.toBeUndefined();
    expect(await lock.release()).toBe(true);
    await store.close();
    client.disconnect();
  });
});

describe('a multi-key attempt that timed out', () => {
  const own = useRedisServer();

  it('finds the keys it took its own on the retry, instead of waiting for itself until its waitTimeout', async () => {
    await own.redis.script('LOAD', MULTI_ACQUIRE.source);
    const client = lateClient(own.server.url, 400, 0, 1, MULTI_ACQUIRE.sha);
    const store = new RedisLockStore({ client, commandTimeout: 150, logger: false });
    const app = await bootLockApp({ store });
    try {
      // The attempt takes both keys, but its answer comes after the command timeout: the retry must see them as its own.
      const lock = await app.locks.acquire(['pair:a', 'pair:b'], { waitTimeout: 2_000, ttl: 30_000 });
      expect(lock.isHeld).toBe(true);
      expect(await own.redis.get('lock:{pair:a}')).toBe(lock.token);
      expect(await lock.release()).toBe(true);
      expect(await own.redis.exists('lock:{pair:a}', 'lock:{pair:b}')).toBe(0);
    } finally {
      await app.app.close();
      await store.close();
      client.disconnect();
    }
  });
});

describe('a wait cancelled while its winning attempt is in flight', () => {
  const own = useRedisServer();
  const apps: LockApp[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((booted) => booted.app.close()));
  });

  it('gives the lock back to Redis, never to the next caller of its own process as well', async () => {
    const [holderApp, otherApp] = await Promise.all([bootLockApp({ redis: own.server.url }), bootLockApp({ redis: own.server.url })]);
    apps.push(holderApp, otherApp);
    // Every acquire answer of this app comes 200 ms late; a released lease lingers 500 ms for its next caller.
    const client = lateClient(own.server.url, 200, 0, Number.POSITIVE_INFINITY);
    const store = new RedisLockStore({ client, logger: false });
    const waiterApp = await bootLockApp({ store, cohort: { linger: 500, duration: 5_000 } });
    apps.push(waiterApp);
    const holder = await holderApp.locks.acquire('cancelled', { ttl: 30_000 });

    const cancel = new AbortController();
    const waiting = waiterApp.locks.acquire('cancelled', { waitTimeout: 10_000, signal: cancel.signal }).catch((error: unknown) => error);
    await sleep(50);
    await holder.release();
    // The retry that finds the lock handed over is in flight now: cancel the wait.
    await sleep(300);
    cancel.abort(new Error('cancelled'));
    expect(await waiting).toEqual(new Error('cancelled'));
    const next = await waiterApp.locks.tryAcquire('cancelled');
    const other = await otherApp.locks.tryAcquire('cancelled');
    expect([next, other].filter((lock) => lock !== null)).toHaveLength(1);
    await Promise.all([next?.release(), other?.release()]);
    await store.close();
    client.disconnect();
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisLockStore } from '../../lib';
import { CLASSIC_ANNOUNCING_SCRIPTS } from '../../lib/stores/redis/redis-announcing.scripts';
import { FAIR_ACQUIRE_SCRIPT } from '../../lib/stores/redis/redis-lock.scripts';
import { bootLockApp, type LockApp } from '../support/app';
import { useRedisServer } from '../support/redis-server';

/**
 * A client whose first acquire reply comes back late (a slow event loop, a paused process) and whose leave scripts
 * reach Redis late (a connection being re-established): the two things that happen when an attempt times out.
 */
function lateClient(url: string, replyLateBy: number, leaveLateBy: number): Redis {
  const client = new Redis(url);
  let acquires = 0;
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === 'evalsha' && typeof value === 'function') {
        return async (sha: string, ...rest: unknown[]) => {
          const call = (): unknown => (value as (...args: unknown[]) => unknown).call(target, sha, ...rest);
          if (sha === FAIR_ACQUIRE_SCRIPT.sha && (acquires += 1) === 1) {
            const reply = await call();
            await sleep(replyLateBy);
            return reply;
          }
          if (sha === CLASSIC_ANNOUNCING_SCRIPTS.leave.sha) {
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

import { LockError } from '../../lib';
import { bootLockApp } from '../support/app';
import { useTestRedis, waitUntil } from '../support/redis';

describe('LockModule shutdown', () => {
  const test = useTestRedis('shutdown');

  it('releases the locks the app still holds when it closes', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix, ttl: 60_000 });
    const lock = await locks.acquire('held-at-shutdown');
    await locks.acquire(['multi-a', 'multi-b']);
    await app.close();
    expect(await test.redis.exists(`${test.prefix}{held-at-shutdown}`, `${test.prefix}{multi-a}`, `${test.prefix}{multi-b}`)).toBe(0);
    expect(lock.isHeld).toBe(false);
  });

  it('ends pending waits with a LockError instead of hanging app.close()', async () => {
    const other = await bootLockApp({ prefix: test.prefix, ttl: 60_000 });
    await other.locks.acquire('contended');
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const waiting = locks.acquire('contended', { waitTimeout: 60_000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await app.close();
    expect(await waiting).toBeInstanceOf(LockError);
    expect(Date.now() - started).toBeLessThan(2000);
    await other.app.close();
  });

  it('lets its waiting callers leave the Redis queue before it closes its connection', async () => {
    const other = await bootLockApp({ prefix: test.prefix, ttl: 60_000 });
    const holder = await other.locks.acquire('queued-at-shutdown');
    const queue = `${test.prefix}{queued-at-shutdown}:q`;
    // Default configuration: the module creates (and on close, closes) its own connection.
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const waiting = locks.acquire('queued-at-shutdown', { waitTimeout: 60_000 }).catch((e: unknown) => e);
    await waitUntil(async () => (await test.redis.zcard(queue)) === 1);
    await app.close();
    expect(await waiting).toBeInstanceOf(LockError);
    expect(await test.redis.zcard(queue)).toBe(0);
    await holder.release();
    // Not handed to the closed app's departed waiter: free at once.
    expect(await other.locks.isLocked('queued-at-shutdown')).toBe(false);
    await other.app.close();
  });

  it('does not leave the lock held by a caller that was cancelled while its winning attempt was in flight', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    for (let i = 0; i < 20; i += 1) {
      const controller = new AbortController();
      const attempt = locks.acquire(`race-${i}`, { signal: controller.signal }).catch((e: unknown) => e);
      queueMicrotask(() => controller.abort(new Error('cancelled')));
      const outcome = await attempt;
      if (outcome instanceof Error) {
        expect(await test.redis.exists(`${test.prefix}{race-${i}}`)).toBe(0);
      }
    }
    await app.close();
  });
});

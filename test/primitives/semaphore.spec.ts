import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidLockOptionsError, Lock, LockLostError, LockNotAcquiredError, type LockEvent } from '../../lib';
import { primitiveStores } from './instances';

describe.each(primitiveStores('semaphore'))('Semaphores (limit) on %s', (_store, boot) => {
  it('lets at most limit callers across instances run at once, and every caller gets its turn', async () => {
    const instances = await boot(4);
    let running = 0;
    let most = 0;
    const work = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await sleep(20);
      running -= 1;
    };
    await Promise.all(
      instances.flatMap(({ locks }) => Array.from({ length: 5 }, () => locks.using('stripe-api', work, { limit: 3, waitTimeout: 10_000 }))),
    );
    expect(most).toBe(3);
  });

  it('gives each permit its own token and a fencing token above every earlier one of the key', async () => {
    const [{ locks }] = await boot(1);
    const permits: Lock[] = [];
    for (let i = 0; i < 3; i += 1) permits.push(await locks.acquire('pool', { limit: 3 }));
    expect(new Set(permits.map((permit) => permit.token)).size).toBe(3);
    const fences = permits.map((permit) => permit.fencingToken);
    expect([...fences].sort((a, b) => a - b)).toEqual(fences);
    expect(new Set(fences).size).toBe(3);
    expect(permits[0]).toMatchObject({ mode: 'write', limit: 3 });
    await permits[1].release();
    const next = await locks.acquire('pool', { limit: 3 });
    expect(next.fencingToken).toBeGreaterThan(fences[2]);
    await Promise.all([...permits, next].map((permit) => permit.release()));
  });

  it('answers tryAcquire with null and isLocked with true once every permit is out', async () => {
    const [{ locks }] = await boot(1);
    const permits = [await locks.acquire('pool', { limit: 2 }), await locks.acquire('pool', { limit: 2 })];
    await expect(locks.tryAcquire('pool', { limit: 2 })).resolves.toBeNull();
    await expect(locks.isLocked('pool')).resolves.toBe(true);
    await permits[0].release();
    const third = await locks.tryAcquire('pool', { limit: 2 });
    expect(third).toBeInstanceOf(Lock);
    await Promise.all([permits[1].release(), third?.release()]);
    await expect(locks.isLocked('pool')).resolves.toBe(false);
  });

  it('ends a wait for a full semaphore at waitTimeout with LockNotAcquiredError, and skips with onBusy skip', async () => {
    const [{ locks }] = await boot(1);
    const held = await locks.acquire('pool', { limit: 2 });
    const other = await locks.acquire('pool', { limit: 2 });
    const started = Date.now();
    await expect(locks.acquire('pool', { limit: 2, waitTimeout: 150 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(locks.using('pool', () => 'ran', { limit: 2, onBusy: 'skip' })).resolves.toBeUndefined();
    await Promise.all([held.release(), other.release()]);
  });

  it('hands a released permit to a waiter of another instance at once, without polling', async () => {
    const [a, b] = await boot(2);
    const permit = await a.locks.acquire('pool', { limit: 2, ttl: 30_000 });
    const other = await a.locks.acquire('pool', { limit: 2, ttl: 30_000 });
    const waiting = b.locks.acquire('pool', { limit: 2, waitTimeout: 20_000 });
    await sleep(100);
    const released = Date.now();
    await permit.release();
    const granted = await waiting;
    // The holders' leases run 30 s: only the release's hand-off can have woken the waiter this soon.
    expect(Date.now() - released).toBeLessThan(1000);
    await Promise.all([granted.release(), other.release()]);
  });

  it('lets a waiter that gives up (signal) leave the queue, so the next waiter gets the released permit at once', async () => {
    const [a, b] = await boot(2);
    const permits = [await a.locks.acquire('pool', { limit: 2 }), await a.locks.acquire('pool', { limit: 2 })];
    const quitting = new AbortController();
    const quitter = b.locks.acquire('pool', { limit: 2, waitTimeout: 20_000, signal: quitting.signal }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stayer = a.locks.acquire('pool', { limit: 2, waitTimeout: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    quitting.abort(new Error('gave up'));
    expect(await quitter).toEqual(new Error('gave up'));
    const released = Date.now();
    await permits[0].release();
    const granted = await stayer;
    expect(Date.now() - released).toBeLessThan(1000);
    await Promise.all([granted.release(), permits[1].release()]);
  });

  it('refuses a caller whose limit differs from the holders’, naming both limits', async () => {
    const [a, b] = await boot(2);
    const permit = await a.locks.acquire('stripe-api', { limit: 5 });
    const error = await b.locks.acquire('stripe-api', { limit: 3, waitTimeout: 0 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(/limit 5.*limit 3/);
    await expect(b.locks.acquire('stripe-api', { waitTimeout: 1000 })).rejects.toThrow(/limit 5.*exclusive lock/);
    await permit.release();
  });

  it('takes one permit of each of several keys, all or nothing', async () => {
    const [{ locks }] = await boot(1);
    const full = await locks.acquire('b', { limit: 3 });
    const more = [await locks.acquire('b', { limit: 3 }), await locks.acquire('b', { limit: 3 })];
    await expect(locks.acquire(['a', 'b'], { limit: 3, waitTimeout: 100 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    const [a1, a2, a3] = [
      await locks.acquire('a', { limit: 3 }),
      await locks.acquire('a', { limit: 3 }),
      await locks.tryAcquire('a', { limit: 3 }),
    ];
    expect(a3).toBeInstanceOf(Lock);
    await Promise.all([a1.release(), a2.release(), a3?.release()]);
    await full.release();
    const both = await locks.acquire(['a', 'b'], { limit: 3 });
    expect(both.keys).toEqual(['a', 'b']);
    expect(both.fencingToken).toBeGreaterThan(Math.max(full.fencingToken, ...more.map((lock) => lock.fencingToken)));
    await Promise.all([both.release(), ...more.map((lock) => lock.release())]);
  });

  it('keeps a permit with its watchdog past its ttl, and aborts its signal when the permit is taken away', async () => {
    const [{ locks }] = await boot(1);
    const permit = await locks.acquire('pool', { limit: 2, ttl: 150 });
    await sleep(400);
    expect(permit.isHeld).toBe(true);
    await permit.extend(1000);
    const unkept = await locks.acquire('short-pool', { limit: 2, ttl: 100, autoExtend: false });
    await new Promise((resolve) => unkept.signal.addEventListener('abort', resolve));
    expect(unkept.signal.reason).toBeInstanceOf(LockLostError);
    await expect(unkept.extend()).rejects.toBeInstanceOf(LockLostError);
    await permit.release();
  });

  it('keeps a permit taken with minHold until minHold has passed', async () => {
    const [{ locks }] = await boot(1);
    await locks.using('cron', () => undefined, { limit: 2, minHold: 300 });
    await locks.using('cron', () => undefined, { limit: 2, minHold: 300 });
    await expect(locks.tryAcquire('cron', { limit: 2 })).resolves.toBeNull();
    await sleep(400);
    const later = await locks.tryAcquire('cron', { limit: 2 });
    expect(later).toBeInstanceOf(Lock);
    await later?.release();
  });

  it('shows the permit to current() inside using(), and runs a nested call with the same limit straight through', async () => {
    const [{ locks }] = await boot(1);
    const nested = await locks.using(
      'pool',
      async (permit) => {
        expect(locks.current('pool')).toBe(permit);
        return locks.using('pool', (inner) => inner === permit, { limit: 2 });
      },
      { limit: 2 },
    );
    expect(nested).toBe(true);
  });

  it('takes a semaphore of limit Number.MAX_SAFE_INTEGER as any other', async () => {
    const [{ locks }] = await boot(1);
    const permits = [
      await locks.acquire('huge', { limit: Number.MAX_SAFE_INTEGER }),
      await locks.acquire('huge', { limit: Number.MAX_SAFE_INTEGER }),
    ];
    expect(permits.map((permit) => permit.limit)).toEqual([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    await expect(locks.tryAcquire('huge', { limit: Number.MAX_SAFE_INTEGER - 1 })).rejects.toThrow(
      /limit 9007199254740991.*limit 9007199254740990/,
    );
    await Promise.all(permits.map((permit) => permit.release()));
  });

  it('reports mode and limit in its events', async () => {
    const [{ locks }] = await boot(1);
    const events: LockEvent[] = [];
    locks.events.subscribe((event) => events.push(event));
    await locks.using('pool', () => undefined, { limit: 4 });
    expect(events.map((event) => [event.type, event.mode, event.limit])).toEqual([
      ['acquired', 'write', 4],
      ['released', 'write', 4],
    ]);
  });
});

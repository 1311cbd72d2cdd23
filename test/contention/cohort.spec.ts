import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, type Lock, type LockEvent, type LockModuleOptions } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { countClientCommands, useRedisServer } from '../support/redis-server';

describe('lock cohorting: a lock passed between callers of one app', () => {
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

  /** `callers` concurrent callers of `locks`, each taking `key` `rounds` times; the fencing tokens in grant order. */
  async function contend(subject: LockApp, key: string, callers: number, rounds: number): Promise<number[]> {
    const tokens: number[] = [];
    await Promise.all(
      Array.from({ length: callers }, async () => {
        for (let i = 0; i < rounds; i += 1) {
          await subject.locks.using(key, async (lock) => {
            tokens.push(lock.fencingToken);
            await sleep(1);
          });
        }
      }),
    );
    return tokens;
  }

  it('passes the lock to the next caller of the app without a command to Redis, with a higher fencing token each time', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    await subject.locks.isLocked('warm-up');
    let tokens: number[] = [];
    const sent = await countClientCommands(own.server.url, async () => {
      tokens = await contend(subject, 'passed', 8, 4);
    });
    expect(tokens).toHaveLength(32);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(32);
    // 32 critical sections: a handful of grants from Redis, not two commands each.
    expect(sent.filter((command) => command === 'evalsha').length).toBeLessThan(12);
  });

  it('issues a later grant elsewhere a fencing token above every token passed on', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const tokens = await contend(subject, 'fenced', 6, 5);
    const other = await app();
    const later = await other.locks.acquire('fenced');
    expect(later.fencingToken).toBeGreaterThan(Math.max(...tokens));
    await later.release();
  });

  it('gives the key to another instance waiting in Redis after at most `passes` passes', async () => {
    const busy = await app({ cohort: { passes: 3, duration: 60_000 } });
    const other = await app();
    const order: string[] = [];
    const first = await busy.locks.acquire('turns');
    const local = Array.from({ length: 8 }, (_, i) =>
      busy.locks.using('turns', async () => {
        order.push(`busy-${i}`);
        await sleep(5);
      }),
    );
    await sleep(50);
    const remote = other.locks.using('turns', async () => {
      order.push('other');
    });
    await sleep(50);
    await first.release();
    await Promise.all([...local, remote]);
    // The holder plus 3 passes, then the key goes to Redis, where the other instance waited first.
    expect(order.indexOf('other')).toBeLessThanOrEqual(3);
    expect(order).toHaveLength(9);
  });

  it('sends every release to Redis with cohort: false', async () => {
    const subject = await app({ cohort: false });
    await subject.locks.isLocked('warm-up');
    const sent = await countClientCommands(own.server.url, async () => {
      await contend(subject, 'no-cohort', 4, 3);
    });
    // Every one of the 12 critical sections released to Redis (and was granted by a script or a hand-off).
    expect(sent.filter((command) => command === 'evalsha').length).toBeGreaterThanOrEqual(12);
  });

  it('hands a passed lock on with the holder’s lease, extended by the new holder’s watchdog', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const holder = await subject.locks.acquire('lease', { ttl: 600 });
    const next = subject.locks.acquire('lease', { ttl: 600 });
    await sleep(50);
    await holder.release();
    const passed = await next;
    expect(passed.token).toBe(holder.token);
    expect(passed.fencingToken).toBe(holder.fencingToken + 1);
    expect(passed.expiresAt).toBeLessThanOrEqual(holder.expiresAt + 5);
    await sleep(900);
    expect(passed.isHeld).toBe(true);
    expect(await own.redis.get('lock:{lease}')).toBe(passed.token);
    await passed.release();
    expect(await own.redis.exists('lock:{lease}')).toBe(0);
  });

  it('reports the loss of a passed lock to its receiver as any loss: signal aborted with LockLostError, a lost event', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const events: LockEvent[] = [];
    subject.locks.events.subscribe((event) => events.push(event));
    const holder = await subject.locks.acquire('passed-then-lost', { ttl: 600 });
    const next = subject.locks.acquire('passed-then-lost', { ttl: 600 });
    await sleep(50);
    await holder.release();
    const passed = await next;
    expect(passed.token).toBe(holder.token);
    // Someone force-releases the key (the CLI, a failover): the receiver's watchdog finds it gone.
    await own.redis.del('lock:{passed-then-lost}');
    await new Promise((resolve) => passed.signal.addEventListener('abort', resolve));
    expect(passed.signal.reason).toBeInstanceOf(LockLostError);
    expect(passed.isHeld).toBe(false);
    expect(events.filter((event) => event.type === 'lost')).toEqual([
      expect.objectContaining({ keys: ['passed-then-lost'], token: passed.token, fencingToken: passed.fencingToken }),
    ]);
    await expect(passed.release()).resolves.toBe(false);
  });

  it('ends the cohort when the lock is lost: the next caller asks Redis', async () => {
    const subject = await app({ cohort: { passes: 63, duration: 60_000 } });
    const holder: Lock = await subject.locks.acquire('lost', { ttl: 200, autoExtend: false });
    const next = subject.locks.acquire('lost', { waitTimeout: 5_000 });
    await sleep(400);
    expect(holder.signal.aborted).toBe(true);
    const lock = await next;
    expect(lock.fencingToken).toBeGreaterThan(holder.fencingToken + 62);
    await lock.release();
  });

  describe('linger', () => {
    /** An app that holds `key` after a wait (so the key counts as contended), and the lock it got. */
    async function contendedHolder(subject: LockApp, key: string): Promise<Lock> {
      const other = await app({ cohort: false });
      const first = await other.locks.acquire(key);
      const waiting = subject.locks.acquire(key, { waitTimeout: 5_000 });
      await sleep(20);
      await first.release();
      return waiting;
    }

    it('keeps a contended key for the app’s next caller a little while, who gets it without Redis and with the next token', async () => {
      const subject = await app({ cohort: { linger: 1_000 } });
      const lock = await contendedHolder(subject, 'lingering');
      let next: Lock | undefined;
      const sent = await countClientCommands(own.server.url, async () => {
        await lock.release();
        await sleep(10);
        next = await subject.locks.acquire('lingering');
      });
      expect(next?.fencingToken).toBe(lock.fencingToken + 1);
      expect(sent.filter((command) => command === 'evalsha')).toEqual([]);
      await next?.release();
    });

    it('lets a caller of another app have the key once the linger ends with nobody taking it', async () => {
      const subject = await app({ cohort: { linger: 50 } });
      const lock = await contendedHolder(subject, 'lingering-ends');
      const other = await app();
      const waiting = other.locks.acquire('lingering-ends', { waitTimeout: 5_000 });
      await sleep(20);
      const releasedAt = Date.now();
      await lock.release();
      const next = await waiting;
      expect(Date.now() - releasedAt).toBeLessThan(1_000);
      expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      await next.release();
    });

    it('releases an uncontended key to Redis at once', async () => {
      const subject = await app({ cohort: { linger: 5_000 } });
      const lock = await subject.locks.acquire('calm');
      await lock.release();
      expect(await own.redis.exists('lock:{calm}')).toBe(0);
    });

    it('gives a parked lease to tryAcquire', async () => {
      const subject = await app({ cohort: { linger: 200 } });
      const lock = await contendedHolder(subject, 'try-parked');
      await lock.release();
      const again = await subject.locks.tryAcquire('try-parked');
      expect(again?.fencingToken).toBe(lock.fencingToken + 1);
      await again?.release();
    });

    it('releases a parked lease to Redis at once when the app shuts down', async () => {
      const subject = await app({ cohort: { linger: 1_000 } });
      const lock = await contendedHolder(subject, 'parked-at-shutdown');
      await lock.release();
      expect(await own.redis.exists('lock:{parked-at-shutdown}')).toBe(1);
      await subject.app.close();
      apps.splice(apps.indexOf(subject), 1);
      expect(await own.redis.exists('lock:{parked-at-shutdown}')).toBe(0);
    });
  });
});

import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Locked, LockError, LockModule, LockService, type Lock } from '../../lib';
import { bootLockApp } from '../support/app';
import { REDIS_URL, useTestRedis, waitUntil } from '../support/redis';

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

/** Work under a lock that the test ends: `entered` resolves once it is inside, `leave()` lets it return. */
function controlledWork(): { entered: Promise<Lock>; enter(lock: Lock): void; leave(): void; left: Promise<void> } {
  let enter: (lock: Lock) => void = () => undefined;
  let leave: () => void = () => undefined;
  const entered = new Promise<Lock>((resolve) => (enter = resolve));
  const left = new Promise<void>((resolve) => (leave = resolve));
  return { entered, enter, leave, left };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

const mayRun = controlledWork();

@Injectable()
class Invoices {
  constructor(private readonly locks: LockService) {}

  @Locked('invoice:{0}')
  async issue(_id: string): Promise<string> {
    mayRun.enter(this.locks.current() as Lock);
    await mayRun.left;
    return 'issued';
  }
}

/** Work under a lock taken with acquire(), finished in the app's own shutdown hook. */
@Injectable()
class Exporter implements OnApplicationShutdown {
  lock?: Lock;
  readonly seen: string[] = [];

  async onApplicationShutdown(): Promise<void> {
    const lock = this.lock as Lock;
    this.seen.push(`signal aborted: ${lock.signal.aborted}`, `held: ${lock.isHeld}`, `released by its holder: ${await lock.release()}`);
  }
}

describe('LockModule shutdown while work is inside a lock', () => {
  const test = useTestRedis('shutdown-mid-work');

  it("aborts a using() callback's signal, keeps the lock (extended) until the callback ends, then releases it", async () => {
    // A ttl shorter than the wait below: only the watchdog keeps the key while the closing app waits for the work.
    const closingApp = await bootLockApp({ prefix: test.prefix, ttl: 300 });
    const next = await bootLockApp({ prefix: test.prefix });
    const order: string[] = [];
    closingApp.locks.events.subscribe((event) => event.type === 'released' && order.push('released'));
    const work = controlledWork();
    const using = closingApp.locks.using('mid-work', async (lock) => {
      work.enter(lock);
      await work.left;
      order.push('work ended');
    });
    const lock = await work.entered;
    const closing = closingApp.app.close();
    await Promise.race([aborted(lock.signal), closing]);
    expect(lock.signal.aborted).toBe(true);
    expect(lock.signal.reason).toBeInstanceOf(LockError);
    expect((lock.signal.reason as Error).message).toMatch(/shutting down/);
    order.push('aborted');
    // Longer than the ttl: the closing app still holds the key, so the other app cannot enter.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await next.locks.tryAcquire('mid-work')).toBeNull();
    work.leave();
    await using;
    await closing;
    expect(order).toEqual(['aborted', 'work ended', 'released']);
    const after = await next.locks.tryAcquire('mid-work');
    expect(after?.fencingToken).toBeGreaterThan(lock.fencingToken);
    await next.app.close();
  });

  it('releases the lock after shutdownTimeout if the work does not end, and says which key it released under running work', async () => {
    const lines: string[] = [];
    const logger = {
      log: (m: unknown) => lines.push(`log ${String(m)}`),
      warn: (m: unknown) => lines.push(`warn ${String(m)}`),
      error: (m: unknown) => lines.push(`error ${String(m)}`),
    };
    const closingApp = await bootLockApp({ prefix: test.prefix, shutdownTimeout: 200, logger });
    const work = controlledWork();
    const using = closingApp.locks.using('stuck-work', async (lock) => {
      work.enter(lock);
      await work.left;
    });
    const lock = await work.entered;
    await closingApp.app.close();
    expect(lock.signal.aborted).toBe(true);
    expect(await test.redis.exists(`${test.prefix}{stuck-work}`)).toBe(0);
    expect(lines.filter((line) => /still running/.test(line))).toEqual([expect.stringMatching(/^warn .*"stuck-work".*shutdownTimeout/)]);
    work.leave();
    await using;
  });

  it("lets the app's own onApplicationShutdown finish the work of an acquire()d lock: its signal has aborted, the lock is still held", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })],
      providers: [Exporter],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const exporter = app.get(Exporter);
    exporter.lock = await app.get(LockService).acquire('export');
    await app.close();
    expect(exporter.seen).toEqual(['signal aborted: true', 'held: true', 'released by its holder: true']);
  });

  it("aborts a @Locked method's signal and keeps its lock until the method returns", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })],
      providers: [Invoices],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const next = await bootLockApp({ prefix: test.prefix });
    const issuing = app.get(Invoices).issue('7');
    const lock = await mayRun.entered;
    const closing = app.close();
    await Promise.race([aborted(lock.signal), closing]);
    expect(lock.signal.aborted).toBe(true);
    expect(await next.locks.tryAcquire('invoice:7')).toBeNull();
    mayRun.leave();
    expect(await issuing).toBe('issued');
    await closing;
    expect(await next.locks.tryAcquire('invoice:7')).not.toBeNull();
    await next.app.close();
  });
});

import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockNotAcquiredError, LockStoreUnavailableError, MemoryLockStore, type LockModuleOptions } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startCuttingProxy, type CuttingProxy } from '../support/cutting-proxy';
import { eventually, REDIS_URL, useTestRedis } from '../support/redis';

/** How late a wait may end after its waitTimeout: timers and one round trip on a loaded 2-core machine. */
const MARGIN = 250;

// Each caller is its own app, as callers in separate processes are: waiters of one app queue in-process first.
describe.each([
  ['Redis store', (prefix: string): LockModuleOptions => ({ prefix })],
  ['memory store shared by the apps', (): LockModuleOptions => ({ store: sharedMemory })],
])('a wait ends at its waitTimeout (%s)', (_name, options) => {
  const test = useTestRedis('wait-deadline');
  const apps: LockApp[] = [];

  async function app(): Promise<LockApp> {
    const booted = await bootLockApp(options(test.prefix));
    apps.push(booted);
    return booted;
  }

  beforeEach(() => {
    sharedMemory = new MemoryLockStore();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.app.close()));
  });

  it('ends a short wait on time while the lock is handed to an earlier, patient waiter', async () => {
    const [holderApp, patientApp, hastyApp] = await Promise.all([app(), app(), app()]);
    const holder = await holderApp.locks.acquire('handed', { ttl: 30_000 });
    const patient = patientApp.locks.acquire('handed', { waitTimeout: 10_000 });
    await sleep(50);
    const started = performance.now();
    const hasty = hastyApp.locks.acquire('handed', { waitTimeout: 300 }).catch((error: unknown) => error);
    await sleep(100);
    // The release hands the lock to the patient waiter, whose lease (10 s) is all the hasty one hears of.
    await holder.release();
    const outcome = await hasty;
    const waited = performance.now() - started;
    expect(outcome).toBeInstanceOf(LockNotAcquiredError);
    expect(waited).toBeLessThan(300 + MARGIN);
    await (await patient).release();
  });

  it('never grants the lock after the waitTimeout has passed', async () => {
    const [holderApp, patientApp, hastyApp] = await Promise.all([app(), app(), app()]);
    const holder = await holderApp.locks.acquire('late', { ttl: 30_000 });
    const patient = patientApp.locks.acquire('late', { waitTimeout: 10_000 });
    await sleep(50);
    const started = performance.now();
    const hasty = hastyApp.locks.acquire('late', { waitTimeout: 200 }).then(
      (lock) => ({ lock, at: performance.now() - started }),
      (error: unknown) => ({ error, at: performance.now() - started }),
    );
    await sleep(20);
    await holder.release();
    // Long after the hasty caller's waitTimeout, the lock becomes free: it must not be granted to that caller.
    await sleep(600);
    await (await patient).release();
    const outcome = await hasty;
    if ('lock' in outcome) {
      await outcome.lock.release();
    }
    expect('lock' in outcome ? `granted after ${Math.round(outcome.at)} ms` : outcome.error).toBeInstanceOf(LockNotAcquiredError);
    expect(outcome.at).toBeLessThan(200 + MARGIN);
  });
});

let sharedMemory = new MemoryLockStore();

describe('a wait that reaches its waitTimeout', () => {
  const test = useTestRedis('wait-last-attempt');
  const apps: LockApp[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.app.close()));
  });

  it('makes one last attempt before it gives up: a key that went free without a word meanwhile is taken', async () => {
    const [holderApp, waiterApp] = await Promise.all([bootLockApp({ prefix: test.prefix }), bootLockApp({ prefix: test.prefix })]);
    apps.push(holderApp, waiterApp);
    await holderApp.locks.acquire('quiet', { ttl: 30_000 });
    const waiting = waiterApp.locks.acquire('quiet', { waitTimeout: 600 });
    await sleep(150);
    // Gone without a release message (an operator's DEL, a failover that lost the write): nobody is told.
    await test.redis.del(`${test.prefix}{quiet}`);
    const lock = await waiting;
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });
});

describe('a wait on a Redis that answers late', () => {
  const test = useTestRedis('wait-slow-redis');
  let proxy: CuttingProxy;
  let client: Redis;
  let subject: LockApp;

  beforeAll(async () => {
    proxy = await startCuttingProxy(REDIS_URL);
    client = new Redis(proxy.url);
    subject = await bootLockApp({ redis: client, prefix: test.prefix, commandTimeout: 300 });
  });

  afterAll(async () => {
    await subject.app.close();
    client.disconnect();
    await proxy.close();
  });

  it('fails a semaphore permit of several keys by one command timeout when a key does not answer in time, and gives the keys back', async () => {
    // Keys taken one by one: the first one's answer comes after commandTimeout; its give-back goes on without the caller.
    await (await subject.locks.acquire(['warm-a', 'warm-b'], { limit: 2 })).release();
    proxy.delayReplies(400);
    const started = Date.now();
    const error = await subject.locks.tryAcquire(['permit-a', 'permit-b'], { limit: 2 }).catch((e: unknown) => e);
    const took = Date.now() - started;
    proxy.delayReplies(0);
    expect(error).toBeInstanceOf(LockStoreUnavailableError);
    expect(took).toBeLessThan(300 + MARGIN);
    await eventually(
      async () => (await test.redis.exists(`${test.prefix}{permit-a}`, `${test.prefix}{permit-b}`)) === 0,
      'the keys given back',
    );
  });
});

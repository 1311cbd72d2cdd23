import { Redis } from 'ioredis';
import { LockStoreUnavailableError, type LockEvent } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startCuttingProxy, type CuttingProxy } from '../support/cutting-proxy';
import { eventually, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

describe('a release whose answer is lost', () => {
  const prefix = uniquePrefix('release-reply-lost');
  let proxy: CuttingProxy;
  let client: Redis;
  let subject: LockApp;
  let redis: Redis;
  const events: LockEvent[] = [];

  beforeAll(async () => {
    proxy = await startCuttingProxy(REDIS_URL);
    // ioredis' defaults: a command a dropped connection left unanswered is sent again after the reconnect.
    client = new Redis(proxy.url);
    subject = await bootLockApp({ redis: client, prefix, commandTimeout: 300 });
    subject.locks.events.subscribe((event) => events.push(event));
    redis = redisClient();
  });

  afterEach(() => {
    events.length = 0;
  });

  afterAll(async () => {
    await subject.app.close();
    client.disconnect();
    await proxy.close();
    await redis.quit();
  });

  it('counts as released when the client resent it after a reconnect and it found its own first delivery done', async () => {
    const lock = await subject.locks.acquire('resent');
    proxy.cutNextReply();
    // The first delivery ran in Redis; its answer was lost with the connection; ioredis resent it, and the resent
    // one found the key free. The holder held the lock until it let go: that is a release, not a loss.
    await expect(lock.release()).resolves.toBe(true);
    expect(await redis.exists(`${prefix}{resent}`)).toBe(0);
    expect(events.map((event) => event.type)).toEqual(['acquired', 'released']);
  });

  it('says false when the lease had run out before the release (a stall) and another process holds the key, resent or not', async () => {
    const lock = await subject.locks.acquire('stalled', { ttl: 200, autoExtend: false });
    const stallUntil = Date.now() + 400;
    while (Date.now() < stallUntil) {
      // A stall past the lease (a long GC pause, a CPU-bound handler): Redis expires the key meanwhile.
    }
    const other = await bootLockApp({ prefix });
    try {
      const taken = await other.locks.tryAcquire('stalled', { ttl: 60_000 });
      expect(taken?.isHeld).toBe(true);
      proxy.cutNextReply();
      await expect(lock.release()).resolves.toBe(false);
      expect(events.map((event) => event.type)).toEqual(['acquired', 'lost']);
      expect(await redis.get(`${prefix}{stalled}`)).toBe(taken?.token);
    } finally {
      await other.app.close();
    }
  });

  it('counts as released when its background retry finds the key its unanswered first try freed', async () => {
    const lock = await subject.locks.acquire('retried');
    await redis.client('PAUSE', 600, 'ALL');
    await expect(lock.release()).rejects.toBeInstanceOf(LockStoreUnavailableError);
    // The paused release runs when the pause ends; the background retry then finds the key free.
    await eventually(() => events.some((event) => event.type === 'released'), 'a released event');
    expect(events.map((event) => event.type)).toEqual(['acquired', 'released']);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, RedisLockStore, type LockStore } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { useTestRedis } from '../support/redis';

/** A Redis store whose extensions are sent `sendAfter` ms late and answered `answerAfter` ms late. */
class SlowExtensions implements LockStore {
  inFlight = 0;
  mostInFlight = 0;

  constructor(
    private readonly inner: RedisLockStore,
    private readonly timing: { sendAfter?: number; answerAfter?: number },
  ) {}

  acquire: LockStore['acquire'] = (...args) => this.inner.acquire(...args);
  release: LockStore['release'] = (...args) => this.inner.release(...args);
  leave: NonNullable<LockStore['leave']> = (...args) => this.inner.leave(...args);
  isLocked: LockStore['isLocked'] = (...args) => this.inner.isLocked(...args);

  async extend(keys: readonly string[], token: string, ttl: number): Promise<boolean> {
    this.inFlight += 1;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    try {
      await sleep(this.timing.sendAfter ?? 0);
      const extended = await this.inner.extend(keys, token, ttl);
      await sleep(this.timing.answerAfter ?? 0);
      return extended;
    } finally {
      this.inFlight -= 1;
    }
  }
}

describe('the watchdog', () => {
  const test = useTestRedis('watchdog');
  let subject: LockApp | undefined;

  async function boot(timing: { sendAfter?: number; answerAfter?: number }): Promise<SlowExtensions> {
    const store = new SlowExtensions(new RedisLockStore({ client: test.redis, prefix: test.prefix, logger: false }), timing);
    subject = await bootLockApp({ store });
    return store;
  }

  afterEach(async () => {
    await subject?.app.close();
  });

  it('gives the key back when the lease ran out locally while an extension was in flight that then succeeded', async () => {
    await boot({ answerAfter: 1_100 });
    // ttl 1500: the extension runs at ~500 ms (the key now lives until ~2000 ms) and answers at ~1600 ms, after the
    // lease ran out locally at 1500 ms.
    const lock = await subject!.locks.acquire('in-flight', { ttl: 1_500 });
    await sleep(1_750);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(await test.redis.exists(`${test.prefix}{in-flight}`)).toBe(0);
  });

  it('never has two extensions in flight at once, however slow they answer', async () => {
    const store = await boot({ answerAfter: 400 });
    const lock = await subject!.locks.acquire('slow', { ttl: 900 });
    await sleep(2_000);
    expect(store.mostInFlight).toBe(1);
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });

  it('never re-creates a released key with an extension that arrives after the release', async () => {
    await boot({ sendAfter: 300 });
    const lock = await subject!.locks.acquire('late-extension', { ttl: 300 });
    await sleep(150);
    expect(await lock.release()).toBe(true);
    await sleep(400);
    expect(await test.redis.exists(`${test.prefix}{late-extension}`)).toBe(0);
  });
});

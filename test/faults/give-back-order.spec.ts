import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { RAISE_FENCE } from '../../lib/stores/redis/redis-mutex.scripts';
import { SHARED_ACQUIRE } from '../../lib/stores/redis/redis-shared.scripts';
import { bootLockApp, type LockApp } from '../support/app';
import { startCuttingProxy, type CuttingProxy } from '../support/cutting-proxy';
import { startRedisServer, type RedisServer } from '../support/redis-server';

// A give-back runs in Redis where it was sent among the caller's commands: when Redis has forgotten the release script
// (SCRIPT FLUSH, a promoted replica: SCRIPT LOAD is not replicated), its EVALSHA is refused with NOSCRIPT and the script
// is sent again whole; that second send must not land behind a later attempt of the same token and free its keys.
describe('a give-back sent while Redis has forgotten the release script', () => {
  let server: RedisServer;
  let proxy: CuttingProxy;
  let client: Redis;
  let direct: Redis;
  let subject: LockApp;

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startCuttingProxy(server.url);
    client = new Redis(proxy.url);
    direct = new Redis(server.url);
    subject = await bootLockApp({ redis: client, prefix: 'order:', commandTimeout: 300 });
  });

  afterAll(async () => {
    await subject.app.close();
    client.disconnect();
    direct.disconnect();
    await proxy.close();
    await server.stop();
  });

  it('does not free a key that the caller’s next attempt took: a permit of several keys holds every key in Redis', async () => {
    await (await subject.locks.acquire(['warm-a', 'warm-b'], { limit: 2 })).release();
    await direct.script('FLUSH');
    await direct.script('LOAD', SHARED_ACQUIRE.source);
    await direct.script('LOAD', RAISE_FENCE.source);
    // The first attempt's second key answers after commandTimeout: the attempt gives back its keys and the caller
    // tries again 100 ms later; the give-back's NOSCRIPT reply comes behind the late one.
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    let slowed = false;
    jest.spyOn(client, 'evalsha').mockImplementation(((...args: unknown[]) => {
      if (!slowed && args[0] === SHARED_ACQUIRE.sha && args.includes('order:{permit-b}')) {
        slowed = true;
        proxy.delayReplies(450);
        setTimeout(() => proxy.delayReplies(0), 250);
      }
      return evalsha(...args);
    }) as unknown as Redis['evalsha']);
    const lock = await subject.locks.acquire(['permit-a', 'permit-b'], { limit: 2, waitTimeout: 5_000 });
    expect(slowed).toBe(true);
    await sleep(500);
    expect(lock.isHeld).toBe(true);
    expect([await direct.exists('order:{permit-a}'), await direct.exists('order:{permit-b}')]).toEqual([1, 1]);
    await lock.release();
  });
});

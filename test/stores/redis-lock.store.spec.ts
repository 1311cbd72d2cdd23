import type { Redis } from 'ioredis';
import { LockStoreUnavailableError, RedisLockStore, type LockReleaseWatch } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { DEAD_REDIS_URL, deleteKeysUnder, keysUnder, redisClient, uniquePrefix, useTestRedis } from '../support/redis';

describeLockStoreConformance('RedisLockStore', async (options) => {
  const client = redisClient();
  const prefix = uniquePrefix('conformance');
  const store = new RedisLockStore({ client, prefix, logger: false, ...options });
  return {
    store,
    dispose: async () => {
      await store.close();
      await deleteKeysUnder(client, prefix);
      await client.quit();
    },
  };
});

describe('RedisLockStore', () => {
  const test = useTestRedis('redis-store');

  it('keeps a lock key and its fencing counter in one hash slot under the prefix', async () => {
    const store = new RedisLockStore({ client: test.redis, prefix: test.prefix, logger: false });
    await store.acquire(['order:1'], 'token-1', 1000);
    const keys = (await keysUnder(test.redis, test.prefix)).sort();
    expect(keys).toEqual([`${test.prefix}{order:1}`, `${test.prefix}{order:1}:fence`]);
    expect(await test.redis.get(`${test.prefix}{order:1}`)).toBe('token-1');
    expect(await test.redis.pttl(`${test.prefix}{order:1}`)).toBeGreaterThan(900);
  });

  it('honours a keyPrefix set on the client', async () => {
    const prefixed = redisClient({ keyPrefix: `${test.prefix}app:` });
    const store = new RedisLockStore({ client: prefixed, prefix: 'lock:', logger: false });
    await store.acquire(['k'], 't1', 1000);
    expect(await test.redis.get(`${test.prefix}app:lock:{k}`)).toBe('t1');
    const watch = store.watch(['k'], 'waiter') as LockReleaseWatch;
    await watch.ready;
    await store.release(['k'], 't1');
    const started = Date.now();
    await watch.next(3000);
    expect(Date.now() - started).toBeLessThan(1000);
    watch.close();
    await store.close();
    await prefixed.quit();
  });

  it('keeps fencing tokens growing after the counter is lost (Redis restarted empty)', async () => {
    const store = new RedisLockStore({ client: test.redis, prefix: test.prefix, logger: false });
    const first = await store.acquire(['f'], 't1', 1000);
    await store.release(['f'], 't1');
    await test.redis.del(`${test.prefix}{f}:fence`);
    const second = await store.acquire(['f'], 't2', 1000);
    if (!first.acquired || !second.acquired) throw new Error('expected to acquire');
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
  });

  it('never leaves a key’s shared holders without an expiry (a reader kept for its minimum hold, then one that dies)', async () => {
    const store = new RedisLockStore({ client: test.redis, prefix: test.prefix, logger: false });
    const read = { mode: 'read' } as const;
    await store.acquire(['doc'], 'kept', 5_000, 0, read);
    await store.release(['doc'], 'kept', { share: read, keepFor: 30 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    // This reader's process dies: nobody releases it, only an expiry can clean up after it.
    await store.acquire(['doc'], 'dies', 200, 0, read);
    const withoutExpiry: string[] = [];
    for (const key of await keysUnder(test.redis, test.prefix)) {
      if ((await test.redis.pttl(key)) < 0) {
        withoutExpiry.push(key);
      }
    }
    expect(withoutExpiry).toEqual([]);
  });

  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH)', async () => {
    const store = new RedisLockStore({ client: test.redis, prefix: test.prefix, logger: false });
    await test.redis.script('FLUSH');
    await expect(store.acquire(['s'], 't1', 1000)).resolves.toMatchObject({ acquired: true });
    await test.redis.script('FLUSH');
    await expect(store.release(['s'], 't1')).resolves.toBe(true);
  });

  it('reports an unreachable server as LockStoreUnavailableError, not as busy', async () => {
    const unreachable = new RedisLockStore({
      client: redisClientFor(DEAD_REDIS_URL),
      ownsClient: true,
      prefix: test.prefix,
      commandTimeout: 200,
      logger: false,
    });
    await expect(unreachable.acquire(['x'], 't', 1000)).rejects.toBeInstanceOf(LockStoreUnavailableError);
    await expect(unreachable.isLocked(['x'])).rejects.toThrow(/unreachable/);
    await unreachable.close();
  });

  it('never closes a client it was given, and closes one it owns', async () => {
    const given = redisClient();
    const store = new RedisLockStore({ client: given, prefix: test.prefix, logger: false });
    await store.acquire(['c'], 't', 1000);
    await store.close();
    expect(given.status).toBe('ready');
    const owned = redisClient();
    await owned.ping();
    await new RedisLockStore({ client: owned, ownsClient: true, prefix: test.prefix, logger: false }).close();
    await new Promise((resolve) => (owned.status === 'end' ? resolve(undefined) : owned.once('end', resolve)));
    await given.quit();
  });
});

function redisClientFor(url: string): Redis {
  const { Redis: RedisClass } = jest.requireActual<typeof import('ioredis')>('ioredis');
  const client = new RedisClass(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return client;
}

import { createClient } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { RedisLockStore } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

// The same conformance suite on node-redis clients (v5 and v4) the app created and connected itself.
describe.each([
  ['node-redis 5', () => createClient({ url: REDIS_URL })],
  ['node-redis 4', () => createClient4({ url: REDIS_URL })],
])('RedisLockStore on %s', (name, create) => {
  describeLockStoreConformance(`RedisLockStore on ${name}`, async (options) => {
    const client = create();
    await client.connect();
    const prefix = uniquePrefix('node-redis');
    const store = new RedisLockStore({ client, prefix, logger: false, ...options });
    return {
      store,
      dispose: async () => {
        await store.close();
        const cleaner = redisClient();
        await deleteKeysUnder(cleaner, prefix);
        await cleaner.quit();
        await client.quit();
      },
    };
  });
});

import type { Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { RedisLockStore } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, uniquePrefix } from '../support/redis';

// ioredis is a peer dependency at ^5 || ^6: the same conformance suite runs on a client from ioredis 6.
describeLockStoreConformance('RedisLockStore on ioredis 6', async (options) => {
  const client = new Redis6(REDIS_URL);
  const prefix = uniquePrefix('ioredis6');
  const store = new RedisLockStore({ client: client as unknown as Redis, prefix, logger: false, ...options });
  return {
    store,
    dispose: async () => {
      await store.close();
      await deleteKeysUnder(client as unknown as Redis, prefix);
      await client.quit();
    },
  };
});

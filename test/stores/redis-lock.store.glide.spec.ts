import { GlideClient, Logger as GlideLogger } from '@valkey/valkey-glide';
import { RedisLockStore } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

// GLIDE logs every NOSCRIPT it sees (the first script call on each node) to stdout: keep test output readable.
GlideLogger.setLoggerConfig('off');

const { hostname: host, port } = new URL(REDIS_URL);

// The same conformance suite on a Valkey GLIDE client the app created itself.
describeLockStoreConformance('RedisLockStore on Valkey GLIDE', async (options) => {
  const client = await GlideClient.createClient({ addresses: [{ host, port: Number(port || 6379) }], requestTimeout: 2_000 });
  const prefix = uniquePrefix('glide');
  const store = new RedisLockStore({ client, prefix, logger: false, ...options });
  return {
    store,
    dispose: async () => {
      await store.close();
      const cleaner = redisClient();
      await deleteKeysUnder(cleaner, prefix);
      await cleaner.quit();
      client.close();
    },
  };
});

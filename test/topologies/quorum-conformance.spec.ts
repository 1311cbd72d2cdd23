import { QuorumLockStore, RedisLockStore } from '../../lib';
import { Redis } from 'ioredis';
import { uniquePrefix } from '../support/redis';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('QuorumLockStore over 3 redis-server processes', () => {
  let nodes: RedisServer[];
  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer()));
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  });
  // Quorum mode neither queues waiters (no FIFO across independent nodes) nor takes shared holds: see the README.
  describeLockStoreConformance(
    'QuorumLockStore',
    async () => {
      const prefix = uniquePrefix('quorum-conformance');
      const clients = nodes.map((node) => new Redis(node.url));
      // Connected before the first test's round, whose validity is the lease less its drift: no handshake inside it.
      await Promise.all(clients.map((client) => client.ping()));
      const store = new QuorumLockStore(clients.map((client) => new RedisLockStore({ client, prefix, logger: false })));
      return {
        store,
        dispose: async () => {
          await store.close();
          clients.forEach((client) => client.disconnect());
        },
      };
    },
    { queues: false, shares: false },
  );
});

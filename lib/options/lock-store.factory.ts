import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { LockStore, RedisConnection } from '../interfaces/index.js';
import type { ResolvedLockModuleOptions } from './lock-module-options.resolver.js';
import { MemoryLockStore } from '../stores/memory/memory-lock.store.js';
import { QuorumLockStore } from '../stores/quorum/quorum-lock.store.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import { isRedisClientInput, type RedisClientInput } from '../stores/redis/redis-client.js';

/**
 * Creates the store the module options ask for. A Redis client is created only from a URL or options;
 * a client passed in is used as it is and never closed by the store.
 * @param options the resolved module options
 */
export function createLockStore(options: ResolvedLockModuleOptions): LockStore {
  if (typeof options.store === 'object') {
    return options.store;
  }
  if (options.store === 'memory') {
    return new MemoryLockStore({ starvation: options.starvation });
  }
  const given = options.redis;
  if (Array.isArray(given)) {
    return new QuorumLockStore(given.map((connection: RedisConnection) => redisStore(connection, options)));
  }
  return redisStore(given as RedisConnection, options);
}

function redisStore(given: RedisConnection, options: ResolvedLockModuleOptions): RedisLockStore {
  const isClient = isRedisClientInput(given);
  return new RedisLockStore({
    client: isClient ? given : createClient(given),
    ownsClient: !isClient,
    prefix: options.prefix,
    commandTimeout: options.commandTimeout,
    logger: options.logger,
    replicas: options.replicas,
    starvation: options.starvation,
    quietUntilReady: options.verifyConnection,
  });
}

function createClient(redis: Exclude<RedisConnection, RedisClientInput>): Redis | Cluster {
  if (typeof redis === 'object' && 'cluster' in redis) {
    return new Cluster(redis.cluster, { lazyConnect: true, ...redis.clusterOptions });
  }
  // Connect on first use, so an app that never locks (or fails to boot) opens no socket.
  const defaults: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 1 };
  return typeof redis === 'string' ? new Redis(redis, defaults) : new Redis({ ...defaults, ...redis });
}

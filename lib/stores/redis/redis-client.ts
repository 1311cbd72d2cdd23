import type { Cluster, Redis } from 'ioredis';
import { adaptGlide, isGlideClient, type GlideRedisClient } from './glide.client.js';
import { adaptNodeRedis, isNodeRedisClient, type NodeRedisClient } from './node-redis.client.js';
import type { RedisConnectionPort, RedisSubscriberPort } from './redis-connection.port.js';

/** A client of any library the Redis store runs on: ioredis (`Redis`, `Cluster`), node-redis, Valkey GLIDE. */
export type RedisClientInput = Redis | Cluster | NodeRedisClient | GlideRedisClient;

/**
 * Whether `value` is a client (of any supported library) rather than connection options.
 * @param value what the user passed as `redis`
 */
export function isRedisClientInput(value: unknown): value is RedisClientInput {
  const ioredis =
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).evalsha === 'function' &&
    typeof (value as Redis).duplicate === 'function';
  return ioredis || isNodeRedisClient(value) || isGlideClient(value);
}

/**
 * The client as the store talks to it: an ioredis client as it is (the compiler checks that it has every method of
 * the port), another library's behind an adapter.
 * @param client the client the app passed
 */
export function toConnectionPort(client: RedisClientInput): RedisConnectionPort {
  if (isNodeRedisClient(client)) {
    return adaptNodeRedis(client);
  }
  return isGlideClient(client) ? adaptGlide(client) : ioredisPort(client);
}

/**
 * Whether the connection is to a cluster, whose keys of one lock may live on different nodes.
 * @param connection the store's connection
 */
export function isClusterConnection(connection: RedisConnectionPort): boolean {
  return typeof connection.nodes === 'function';
}

/**
 * The store's subscriber connection: on an ioredis Cluster, one with sharded subscribers (ioredis 5.6 and later
 * honour the option; earlier ones ignore it).
 * @param connection the store's connection
 */
export function duplicateForSubscriber(connection: RedisConnectionPort): RedisSubscriberPort {
  const ioredisCluster = isClusterConnection(connection) && typeof (connection as Partial<Cluster>).sscanStream === 'function';
  return ioredisCluster
    ? ioredisPort((connection as Cluster).duplicate([], { shardedSubscribers: true, lazyConnect: true }))
    : connection.duplicate();
}

function ioredisPort(client: Redis | Cluster): RedisSubscriberPort {
  return client;
}

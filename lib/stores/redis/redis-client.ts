import type { Cluster, Redis } from 'ioredis';
import { adaptGlide, isGlideClient, type GlideRedisClient } from './glide.client.js';
import { adaptNodeRedis, isNodeRedisClient, type NodeRedisClient } from './node-redis.client.js';

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
 * The client as the store talks to it: an ioredis client as it is, another library's behind an adapter.
 * @param client the client the app passed
 */
export function asIoredisSurface(client: RedisClientInput): Redis | Cluster {
  if (isNodeRedisClient(client)) {
    return adaptNodeRedis(client);
  }
  return isGlideClient(client) ? adaptGlide(client) : client;
}

export * from './redis/redis-lock.store.js';
export * from './memory/memory-lock.store.js';
export * from './quorum/quorum-lock.store.js';
export type { NodeRedisClient } from './redis/node-redis.client.js';
export type { GlideRedisClient } from './redis/glide.client.js';

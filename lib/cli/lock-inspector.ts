import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, FENCE_BLOCK } from '../lock.constants.js';
import { RedisKeySchema } from '../stores/redis/redis-key.schema.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';

/** One lock as the operator sees it. */
export interface InspectedLock {
  /** The key, as the application named it. */
  key: string;
  /** The holder's token, or undefined if nobody holds it (waiters only). */
  holder?: string;
  /** Who holds it, read from the token (`appName`, host, process id), when the holder's version puts it there. */
  holderApp?: string;
  /** The host name of the holder's process. */
  holderHost?: string;
  /** The process id of the holder. */
  holderPid?: number;
  /** ms until the lease ends, if held. */
  ttl?: number;
  /**
   * The fencing token of the key's last grant from Redis (the holder's, if it is held; a holder's process may
   * have passed the lock on to its own next callers since, with the following tokens of that grant's block).
   */
  fencingToken?: number;
  /** Waiters queued in Redis (one per waiting process and key). */
  waiters: number;
}

/**
 * Reads the locks under a prefix without changing anything, and force-releases one on an operator's request.
 */
export class LockInspector {
  private readonly keys: RedisKeySchema;

  /**
   * @param redis a client of the Redis the locks live in: one server, or a Cluster
   * @param prefix the module's `prefix` @default 'lock:'
   */
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string = DEFAULT_PREFIX,
  ) {
    this.keys = new RedisKeySchema(prefix);
  }

  /** Every lock that is held or has waiters, sorted by key. */
  async list(): Promise<InspectedLock[]> {
    const keys = new Set<string>();
    // A Cluster's keys are spread over its masters: SCAN each of them.
    const servers = 'nodes' in this.redis && typeof this.redis.nodes === 'function' ? this.redis.nodes('master') : [this.redis as Redis];
    for (const server of servers) {
      await this.scan(server, keys);
    }
    const locks = await Promise.all([...keys].map((key) => this.describe(key)));
    return locks.filter((lock) => lock.holder !== undefined || lock.waiters > 0).sort((a, b) => a.key.localeCompare(b.key));
  }

  /** One lock, held or not. */
  async describe(key: string): Promise<InspectedLock> {
    const lockKey = this.keys.lock(key);
    const [holder, ttl, fence, waiters] = await Promise.all([
      this.redis.get(lockKey),
      this.redis.pttl(lockKey),
      this.redis.get(this.keys.fence(key)),
      this.redis.zcard(this.keys.queue(key)),
    ]);
    return {
      key,
      holder: holder ?? undefined,
      ...holderOf(holder),
      ttl: holder === null ? undefined : ttl,
      fencingToken: fence === null ? undefined : Number(fence) - (FENCE_BLOCK - 1),
      waiters,
    };
  }

  /**
   * Releases the lock held by `token` (the holder an operator saw), handing it to the next waiter. Nothing happens
   * if the lock changed hands meanwhile.
   * @returns true if it was released
   */
  async forceRelease(key: string, token: string): Promise<boolean> {
    const store = new RedisLockStore({ client: this.redis, prefix: this.prefix, logger: false });
    return store.release([key], token);
  }

  private async scan(server: Redis, keys: Set<string>): Promise<void> {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', this.keys.pattern(), 'COUNT', 1000);
      cursor = next;
      for (const redisKey of found) {
        const key = this.keys.keyOf(redisKey);
        if (key !== undefined) {
          keys.add(key);
        }
      }
    } while (cursor !== '0');
  }
}

/** A token `app@host:pid/uuid` names its holder's process. */
const HOLDER_TOKEN = /^([\w.-]+)@([\w.-]+):(\d+)\//;

function holderOf(token: string | null): Pick<InspectedLock, 'holderApp' | 'holderHost' | 'holderPid'> {
  const match = token === null ? null : HOLDER_TOKEN.exec(token);
  return match ? { holderApp: match[1], holderHost: match[2], holderPid: Number(match[3]) } : {};
}

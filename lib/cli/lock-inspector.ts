import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, FENCE_BLOCK } from '../lock.constants.js';
import { RedisKeySchema } from '../stores/redis/redis-key.schema.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import { resolveShare } from '../options/lock-options.validator.js';

/** One holder of a lock: the only one of an exclusive lock, or one reader or permit of a shared one. */
export interface InspectedHolder {
  /** The holder's token. */
  token: string;
  /** `appName` of the holder's app, read from the token, when the holder's version puts it there. */
  app?: string;
  /** The host name of the holder's process. */
  host?: string;
  /** The process id of the holder. */
  pid?: number;
  /** ms until its lease ends. */
  ttl: number;
}

/** One lock as the operator sees it. */
export interface InspectedLock {
  /** The key, as the application named it. */
  key: string;
  /** `'read'` while readers hold it; `'write'` for a mutex, a writer or a semaphore (and for a free key). */
  mode: 'read' | 'write';
  /** How many may hold it at once: a semaphore's limit; 1 for a mutex or a writer; unbounded (null) for readers. */
  limit: number | null;
  /** Everyone who holds it now: one for an exclusive lock, each reader or permit holder of a shared one. */
  holders: InspectedHolder[];
  /** The exclusive holder's token, or undefined if nobody holds it exclusively (waiters only, or shared holders). */
  holder?: string;
  /** Who holds it, read from the token (`appName`, host, process id), when the holder's version puts it there. */
  holderApp?: string;
  /** The host name of the holder's process. */
  holderHost?: string;
  /** The process id of the holder. */
  holderPid?: number;
  /** ms until the lease ends, if held (for shared holders, the longest lease). */
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
    return locks.filter((lock) => lock.holders.length > 0 || lock.waiters > 0).sort((a, b) => a.key.localeCompare(b.key));
  }

  /** One lock, held or not. */
  async describe(key: string): Promise<InspectedLock> {
    const lockKey = this.keys.lock(key);
    const [holder, ttl, fence, waiters, shared, [seconds, micros]] = await Promise.all([
      this.redis.get(lockKey),
      this.redis.pttl(lockKey),
      this.redis.get(this.keys.fence(key)),
      this.redis.zcard(this.keys.queue(key)),
      this.redis.zrange(this.keys.holders(key), 0, -1, 'WITHSCORES'),
      this.redis.time(),
    ]);
    const fencingToken = fence === null ? undefined : Number(fence);
    const tag = holder?.startsWith('*') ? holder.slice(1) : undefined;
    if (tag === undefined) {
      const exclusive = holder === null ? [] : [{ token: holder, ...holderOf(holder), ttl }];
      const { app: holderApp, host: holderHost, pid: holderPid } = exclusive[0] ?? {};
      return {
        key,
        mode: 'write',
        limit: 1,
        holders: exclusive,
        holder: holder ?? undefined,
        ...(holderApp !== undefined && { holderApp, holderHost, holderPid }),
        ttl: holder === null ? undefined : ttl,
        fencingToken: fencingToken === undefined ? undefined : fencingToken - (FENCE_BLOCK - 1),
        waiters,
      };
    }
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const holders: InspectedHolder[] = [];
    for (let i = 0; i < shared.length; i += 2) {
      const left = Number(shared[i + 1]) - now;
      if (left > 0) {
        holders.push({ token: shared[i], ...holderOf(shared[i]), ttl: left });
      }
    }
    const read = tag === 'r';
    return { key, mode: read ? 'read' : 'write', limit: read ? null : Number(tag.slice(1)), holders, ttl, fencingToken, waiters };
  }

  /**
   * Releases the lock (or the read lock or permit) held by `token` (the holder an operator saw), handing the room
   * to the next waiters. Nothing happens if the lock changed hands meanwhile.
   * @param lock the lock as {@link describe} saw it
   * @param token the holder to release
   * @returns true if it was released
   */
  async forceRelease(lock: InspectedLock, token: string): Promise<boolean> {
    const store = new RedisLockStore({ client: this.redis, prefix: this.prefix, logger: false });
    return store.release([lock.key], token, { share: resolveShare({ mode: lock.mode, limit: lock.limit ?? undefined }) });
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

function holderOf(token: string): Pick<InspectedHolder, 'app' | 'host' | 'pid'> {
  const match = HOLDER_TOKEN.exec(token);
  return match ? { app: match[1], host: match[2], pid: Number(match[3]) } : {};
}

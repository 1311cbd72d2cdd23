/** The Redis keys of one lock key, by name (what the scripts call them). */
export interface RedisKeySet {
  readonly lock: string;
  readonly fence: string;
  readonly queue: string;
  readonly deadlines: string;
  readonly holders: string;
}

/**
 * Where the Redis store keeps each lock key `k` under a prefix: the lock `<prefix>{k}` (the holder's token, with
 * a PX lease, or `*<share>` while shared holders have it), its fencing counter `:fence`, its waiter queue `:q`, the
 * waiters' deadlines `:qt` and its shared holders `:h`. The braces
 * make them share one Cluster hash slot. The CLI reads the same layout.
 */
export class RedisKeySchema {
  /** @param prefix the module's `prefix` */
  constructor(readonly prefix: string) {}

  /** The lock key of `key` (also its release channel). */
  lock(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  /** The fencing counter of `key`. */
  fence(key: string): string {
    return `${this.lock(key)}:fence`;
  }

  /** The waiter queue of `key` (members `<token>|<ttl>` by arrival). */
  queue(key: string): string {
    return `${this.lock(key)}:q`;
  }

  /** The shared holders of `key` (read locks, semaphore permits: tokens by lease end). */
  holders(key: string): string {
    return `${this.lock(key)}:h`;
  }

  /** The lock, its fencing counter, its waiter queue, the places' ends and its shared holders: one hash slot. */
  keySet(key: string): RedisKeySet {
    const lock = this.lock(key);
    return { lock, fence: `${lock}:fence`, queue: `${lock}:q`, deadlines: `${lock}:qt`, holders: `${lock}:h` };
  }

  /** A SCAN pattern that matches every key of the layout. */
  pattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, (char) => `\\${char}`)}{*`;
  }

  /**
   * The application's key that a Redis key of the layout belongs to.
   * @param redisKey a key as stored
   * @returns undefined if it is not one of the layout's
   */
  keyOf(redisKey: string): string | undefined {
    if (!redisKey.startsWith(this.prefix)) {
      return undefined;
    }
    return /^\{(.*)\}(?::fence|:q|:qt|:h)?$/s.exec(redisKey.slice(this.prefix.length))?.[1];
  }
}

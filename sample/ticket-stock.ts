import { Redis } from 'ioredis';

/** Where the tickets' counters live: in Redis, shared by every instance of the app, or in this process alone. */
export abstract class TicketStock {
  /** The counter's value (0 if never set). */
  abstract get(key: string): Promise<number>;
  /** Sets counters. */
  abstract set(values: Record<string, number>): Promise<void>;
  /** Adds one, atomically. */
  abstract increment(key: string): Promise<void>;
  /** Frees the connection, if any. */
  abstract close(): Promise<void>;
}

/** The counters in Redis: every instance sees the same stock. */
export class RedisTicketStock extends TicketStock {
  private readonly redis: Redis;

  constructor(url: string) {
    super();
    this.redis = new Redis(url);
  }

  async get(key: string): Promise<number> {
    return Number((await this.redis.get(key)) ?? 0);
  }

  async set(values: Record<string, number>): Promise<void> {
    await this.redis.mset(Object.entries(values).flat().map(String));
  }

  async increment(key: string): Promise<void> {
    await this.redis.incr(key);
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}

/** The counters in this process: enough to try every route with one instance and no Redis. */
export class MemoryTicketStock extends TicketStock {
  private readonly values = new Map<string, number>();

  async get(key: string): Promise<number> {
    return this.values.get(key) ?? 0;
  }

  async set(values: Record<string, number>): Promise<void> {
    Object.entries(values).forEach(([key, value]) => this.values.set(key, value));
  }

  async increment(key: string): Promise<void> {
    this.values.set(key, (this.values.get(key) ?? 0) + 1);
  }

  async close(): Promise<void> {
    this.values.clear();
  }
}

import { clock } from '../../utils/clock.util.js';

/** A caller queued for a key in the memory store. */
export interface MemoryWaiter {
  readonly token: string;
  readonly ttl: number;
  /** The share it waits for (see `shareTag`); undefined: exclusive. */
  readonly tag?: string;
  /** `clock.now()` when it queued. */
  readonly arrival: number;
  deadline: number;
}

/** The memory store's FIFO waiter queues, one per key; a waiter whose deadline passed is dropped when looked at. */
export class MemoryWaiterQueues {
  private readonly queues = new Map<string, MemoryWaiter[]>();

  /**
   * The live waiters of `key`, in arrival order.
   * @param key the key
   */
  live(key: string): readonly MemoryWaiter[] {
    const queue = this.queues.get(key);
    if (!queue) {
      return [];
    }
    const now = clock.now();
    const live = queue.filter((waiter) => waiter.deadline > now);
    if (live.length === 0) {
      this.queues.delete(key);
    } else {
      this.queues.set(key, live);
    }
    return live;
  }

  /** The longest-waiting live waiter of `key`. */
  head(key: string): MemoryWaiter | undefined {
    return this.live(key)[0];
  }

  /**
   * Queues `token` for `key`, or moves the deadline of its entry.
   * @param tag the share it waits for; undefined for an exclusive lock
   */
  enqueue(key: string, token: string, ttl: number, arrival: number, deadline: number, tag?: string): void {
    const queue = this.queues.get(key) ?? [];
    const existing = queue.find((waiter) => waiter.token === token);
    if (existing) {
      existing.deadline = deadline;
    } else {
      queue.push({ token, ttl, arrival, deadline, tag });
    }
    this.queues.set(key, queue);
  }

  /** Removes `token` from the queue of `key`. */
  dequeue(key: string, token: string): void {
    const queue = this.queues.get(key)?.filter((waiter) => waiter.token !== token);
    if (queue && queue.length > 0) {
      this.queues.set(key, queue);
    } else {
      this.queues.delete(key);
    }
  }

  /**
   * FIFO for shared holds: a sharer is admitted if it fits, counting the waiters before it, all of which share the
   * key the same way.
   * @param room how many more holders fit now
   */
  admits(key: string, token: string, tag: string, room: number): boolean {
    const queue = this.live(key);
    const index = queue.findIndex((waiter) => waiter.token === token);
    const rank = index < 0 ? queue.length : index;
    return rank < room && queue.slice(0, rank).every((waiter) => waiter.tag === tag);
  }

  /** Drops the dead waiters of every key. */
  sweep(): void {
    for (const key of [...this.queues.keys()]) {
      this.live(key);
    }
  }

  /** Forgets everything (the store closed). */
  clear(): void {
    this.queues.clear();
  }
}

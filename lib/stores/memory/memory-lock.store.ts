import { performance } from 'node:perf_hooks';
import { DEFAULT_STARVATION, FENCE_BLOCK } from '../../lock.constants.js';
import type { LockReleaseWatch, LockStore, LockStoreAcquireResult, LockStoreReleaseOptions } from '../../interfaces/index.js';
import { ReleaseLatch } from '../release.latch.js';

/** Expired entries of keys nobody asks for again are dropped every this many acquisitions. */
const SWEEP_EVERY = 1000;

interface Entry {
  readonly token: string;
  expiresAt: number;
  /** The fencing token it was granted with. */
  readonly fence: number;
}

interface Waiter {
  readonly token: string;
  readonly ttl: number;
  /** `performance.now()` when it queued. */
  readonly arrival: number;
  deadline: number;
}

/** What a release tells the watchers of a key. */
type Announcement =
  | { readonly kind: 'free' }
  | { readonly kind: 'granted'; readonly grantee: string; readonly fencingToken: number; readonly lease: number }
  | { readonly kind: 'woken'; readonly grantee: string; readonly recheck: number }
  | { readonly kind: 'kept'; readonly recheck: number };

type Listener = (announcement: Announcement) => void;

/** Options of {@link MemoryLockStore}. */
export interface MemoryLockStoreOptions {
  /**
   * How long, in ms, the head of a key's queue may wait before a release hands the lock straight to it (see the
   * module's `starvation`). `0` is strict FIFO.
   * @default 0
   */
  starvation?: number;
}

/**
 * An in-process {@link LockStore} with the same semantics as the Redis one (leases, fencing, token checks,
 * FIFO waiter queues with bounded barging, wake-up on release), for unit tests of your own code and
 * single-process apps. Locks are not shared between processes.
 */
export class MemoryLockStore implements LockStore {
  private readonly entries = new Map<string, Entry>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly starvation: number;
  /** One counter for all keys: it grows strictly for each key, and stays bounded. */
  private fence = 0;
  private acquisitions = 0;

  /** @param options fairness settings */
  constructor(options: MemoryLockStoreOptions = {}) {
    this.starvation = options.starvation ?? DEFAULT_STARVATION;
  }

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0): Promise<LockStoreAcquireResult> {
    if (++this.acquisitions % SWEEP_EVERY === 0) {
      this.sweep();
    }
    const now = performance.now();
    const entry = keys.length === 1 ? this.live(keys[0]) : undefined;
    if (entry?.token === token) {
      entry.expiresAt = now + ttl;
      return { acquired: true, fencingToken: entry.fence, reserved: FENCE_BLOCK };
    }
    const blocker = keys.map((key) => this.live(key)).find((found) => found !== undefined);
    const head = keys.length === 1 ? this.head(keys[0]) : undefined;
    if (!blocker && (!head || head.token === token || this.mayBarge(head, now))) {
      const fencingToken = this.nextFence(keys.length === 1 ? FENCE_BLOCK : 1);
      for (const key of keys) {
        this.entries.set(key, { token, expiresAt: now + ttl, fence: fencingToken });
      }
      if (head) {
        this.dequeue(keys[0], token);
      }
      return { acquired: true, fencingToken, reserved: keys.length === 1 ? FENCE_BLOCK : 1 };
    }
    if (keys.length === 1 && wait > 0) {
      this.enqueue(keys[0], token, ttl, now, now + wait);
    }
    const until = blocker ? blocker.expiresAt : Math.min((head as Waiter).deadline, now + ttl);
    return { acquired: false, retryAfter: Math.max(1, Math.ceil(until - now)), lastFencingToken: this.fence };
  }

  async extend(keys: readonly string[], token: string, ttl: number): Promise<boolean> {
    if (!keys.every((key) => this.live(key)?.token === token)) {
      return false;
    }
    const expiresAt = performance.now() + ttl;
    for (const key of keys) {
      (this.entries.get(key) as Entry).expiresAt = expiresAt;
    }
    return true;
  }

  async release(keys: readonly string[], token: string, options: LockStoreReleaseOptions = {}): Promise<boolean> {
    const keepFor = options.keepFor ?? 0;
    let released = 0;
    for (const key of keys) {
      const entry = this.live(key);
      if (entry?.token !== token) {
        continue;
      }
      released += 1;
      if (keepFor > 0) {
        entry.expiresAt = performance.now() + keepFor;
        this.tell(key, { kind: 'kept', recheck: keepFor });
      } else {
        this.entries.delete(key);
        this.announce(key, options.yield ?? false);
      }
    }
    return released === keys.length;
  }

  async leave(keys: readonly string[], token: string): Promise<void> {
    for (const key of keys) {
      this.dequeue(key, token);
      const holder = this.live(key);
      if (holder?.token === token) {
        this.entries.delete(key);
      }
      if (!holder || holder.token === token) {
        this.announce(key, false);
      }
    }
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    return keys.some((key) => this.live(key) !== undefined);
  }

  watch(keys: readonly string[], token: string): LockReleaseWatch {
    const latch = new ReleaseLatch();
    const listener: Listener = (announcement) => {
      if (announcement.kind === 'kept') {
        latch.recheckWithin(announcement.recheck + 1);
      } else if (announcement.kind === 'free' || keys.length > 1) {
        latch.notify();
      } else if (announcement.grantee !== token) {
        latch.recheckWithin((announcement.kind === 'woken' ? announcement.recheck : announcement.lease) + 1);
      } else if (announcement.kind === 'woken') {
        latch.notify();
      } else {
        latch.notify({ fencingToken: announcement.fencingToken, lease: announcement.lease, reserved: FENCE_BLOCK });
      }
    };
    for (const key of keys) {
      const set = this.listeners.get(key) ?? new Set();
      set.add(listener);
      this.listeners.set(key, set);
    }
    return {
      ready: Promise.resolve(),
      next: (timeout, signal) => latch.wait(timeout, signal),
      close: () => {
        for (const key of keys) {
          const set = this.listeners.get(key);
          set?.delete(listener);
          if (set?.size === 0) {
            this.listeners.delete(key);
          }
        }
      },
    };
  }

  async ping(): Promise<void> {
    // In process: always there.
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.queues.clear();
    this.listeners.clear();
  }

  /** A running caller may take a free lock before the head of its queue while the head has waited less than the bound. */
  private mayBarge(head: Waiter, now: number): boolean {
    return this.starvation > 0 && now - head.arrival < this.starvation;
  }

  /** Hands a free key to the head of its queue, wakes the head, or tells anyone it is free (see the Redis store). */
  private announce(key: string, yieldTurn: boolean): void {
    const head = this.head(key);
    if (!head) {
      this.tell(key, { kind: 'free' });
      return;
    }
    const now = performance.now();
    if (!yieldTurn && this.mayBarge(head, now)) {
      this.tell(key, { kind: 'woken', grantee: head.token, recheck: Math.min(head.deadline - now, this.starvation) });
      return;
    }
    const lease = Math.min(head.ttl, head.deadline - now);
    const fencingToken = this.nextFence(FENCE_BLOCK);
    this.entries.set(key, { token: head.token, expiresAt: now + lease, fence: fencingToken });
    this.dequeue(key, head.token);
    this.tell(key, { kind: 'granted', grantee: head.token, fencingToken, lease });
  }

  private tell(key: string, announcement: Announcement): void {
    this.listeners.get(key)?.forEach((listener) => listener(announcement));
  }

  /** The first of `block` new fencing tokens. */
  private nextFence(block: number): number {
    const first = this.fence + 1;
    this.fence += block;
    return first;
  }

  private head(key: string): Waiter | undefined {
    const queue = this.queues.get(key);
    if (!queue) {
      return undefined;
    }
    const now = performance.now();
    const live = queue.filter((waiter) => waiter.deadline > now);
    if (live.length === 0) {
      this.queues.delete(key);
      return undefined;
    }
    this.queues.set(key, live);
    return live[0];
  }

  private enqueue(key: string, token: string, ttl: number, arrival: number, deadline: number): void {
    const queue = this.queues.get(key) ?? [];
    const existing = queue.find((waiter) => waiter.token === token);
    if (existing) {
      existing.deadline = deadline;
    } else {
      queue.push({ token, ttl, arrival, deadline });
    }
    this.queues.set(key, queue);
  }

  private dequeue(key: string, token: string): void {
    const queue = this.queues.get(key)?.filter((waiter) => waiter.token !== token);
    if (queue && queue.length > 0) {
      this.queues.set(key, queue);
    } else {
      this.queues.delete(key);
    }
  }

  private sweep(): void {
    for (const key of this.entries.keys()) {
      this.live(key);
    }
    for (const key of this.queues.keys()) {
      this.head(key);
    }
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= performance.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

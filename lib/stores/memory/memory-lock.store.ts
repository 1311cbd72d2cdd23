import { performance } from 'node:perf_hooks';
import type { LockReleaseWatch, LockStore, LockStoreAcquireResult } from '../../interfaces/index.js';
import { ReleaseLatch } from '../release.latch.js';

/** Expired entries of keys nobody asks for again are dropped every this many acquisitions. */
const SWEEP_EVERY = 1000;

interface Entry {
  readonly token: string;
  expiresAt: number;
}

interface Waiter {
  readonly token: string;
  readonly ttl: number;
  deadline: number;
}

/** A release: to anyone (`grantee` undefined), handed to `grantee`, or kept (a minimum hold) for `keptFor` ms. */
interface Handoff {
  readonly grantee?: string;
  readonly fencingToken: number;
  readonly lease: number;
  readonly keptFor?: number;
}

type Listener = (handoff: Handoff) => void;

/**
 * An in-process {@link LockStore} with the same semantics as the Redis one (leases, fencing, token checks,
 * FIFO waiter queues, wake-up on release), for unit tests of your own code and single-process apps. Locks are
 * not shared between processes.
 */
export class MemoryLockStore implements LockStore {
  private readonly entries = new Map<string, Entry>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private fence = 0;
  /** The fencing token of each held key (one counter for all keys grows strictly for each key, and stays bounded). */
  private readonly fences = new Map<string, number>();
  private acquisitions = 0;

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0): Promise<LockStoreAcquireResult> {
    if (++this.acquisitions % SWEEP_EVERY === 0) {
      this.sweep();
    }
    const now = performance.now();
    const entry = keys.length === 1 ? this.live(keys[0]) : undefined;
    if (entry?.token === token) {
      entry.expiresAt = now + ttl;
      return { acquired: true, fencingToken: this.fences.get(keys[0]) ?? this.fence };
    }
    const blocker = keys.map((key) => this.live(key)).find((found) => found !== undefined);
    const head = keys.length === 1 ? this.head(keys[0]) : undefined;
    if (!blocker && (!head || head.token === token)) {
      for (const key of keys) {
        this.entries.set(key, { token, expiresAt: now + ttl });
      }
      if (head) {
        this.dequeue(keys[0], token);
      }
      return { acquired: true, fencingToken: this.nextFence(keys) };
    }
    if (keys.length === 1 && wait > 0) {
      this.enqueue(keys[0], token, ttl, now + wait);
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

  async release(keys: readonly string[], token: string, keepFor = 0): Promise<boolean> {
    let released = 0;
    for (const key of keys) {
      const entry = this.live(key);
      if (entry?.token !== token) {
        continue;
      }
      released += 1;
      if (keepFor > 0) {
        entry.expiresAt = performance.now() + keepFor;
        this.listeners.get(key)?.forEach((listener) => listener({ fencingToken: 0, lease: 0, keptFor: keepFor }));
      } else {
        this.entries.delete(key);
        this.fences.delete(key);
        this.announce(key);
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
        this.announce(key);
      }
    }
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    return keys.some((key) => this.live(key) !== undefined);
  }

  watch(keys: readonly string[], token: string): LockReleaseWatch {
    const latch = new ReleaseLatch();
    const listener: Listener = (handoff) => {
      if (handoff.keptFor !== undefined) {
        latch.recheckWithin(handoff.keptFor + 1);
      } else if (handoff.grantee === token) {
        latch.notify({ fencingToken: handoff.fencingToken, lease: handoff.lease });
      } else if (handoff.grantee === undefined || keys.length > 1) {
        latch.notify();
      } else {
        latch.recheckWithin(handoff.lease + 1);
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
    this.fences.clear();
    this.queues.clear();
    this.listeners.clear();
  }

  /** Hands a free key to the head of its queue, or tells anyone it is free. */
  private announce(key: string): void {
    const head = this.head(key);
    let handoff: Handoff = { fencingToken: 0, lease: 0 };
    if (head) {
      const lease = Math.min(head.ttl, head.deadline - performance.now());
      this.entries.set(key, { token: head.token, expiresAt: performance.now() + lease });
      this.dequeue(key, head.token);
      handoff = { grantee: head.token, fencingToken: this.nextFence([key]), lease };
    }
    this.listeners.get(key)?.forEach((listener) => listener(handoff));
  }

  private nextFence(keys: readonly string[]): number {
    this.fence += 1;
    keys.forEach((key) => this.fences.set(key, this.fence));
    return this.fence;
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

  private enqueue(key: string, token: string, ttl: number, deadline: number): void {
    const queue = this.queues.get(key) ?? [];
    const existing = queue.find((waiter) => waiter.token === token);
    if (existing) {
      existing.deadline = deadline;
    } else {
      queue.push({ token, ttl, deadline });
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
      this.fences.delete(key);
      return undefined;
    }
    return entry;
  }
}

import { performance } from 'node:perf_hooks';
import type { LockReleaseWatch, LockStore, LockStoreAcquireResult } from '../interfaces/index.js';
import { ReleaseLatch } from './release.latch.js';

/** Expired entries of keys nobody asks for again are dropped every this many acquisitions. */
const SWEEP_EVERY = 1000;

interface Entry {
  readonly token: string;
  expiresAt: number;
}

/**
 * An in-process {@link LockStore} with the same semantics as the Redis one (leases, fencing, token checks,
 * wake-up on release), for unit tests of your own code and single-process apps. Locks are not shared
 * between processes.
 */
export class MemoryLockStore implements LockStore {
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private fence = 0;
  private acquisitions = 0;

  async acquire(keys: readonly string[], token: string, ttl: number): Promise<LockStoreAcquireResult> {
    if (++this.acquisitions % SWEEP_EVERY === 0) {
      this.sweep();
    }
    for (const key of keys) {
      const entry = this.live(key);
      if (entry) {
        return { acquired: false, retryAfter: Math.ceil(entry.expiresAt - performance.now()) };
      }
    }
    const expiresAt = performance.now() + ttl;
    for (const key of keys) {
      this.entries.set(key, { token, expiresAt });
    }
    // One counter for all keys still grows strictly for each key, and stays bounded in memory.
    return { acquired: true, fencingToken: ++this.fence };
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

  async release(keys: readonly string[], token: string): Promise<boolean> {
    let released = 0;
    for (const key of keys) {
      if (this.live(key)?.token === token) {
        this.entries.delete(key);
        released += 1;
        this.watchers.get(key)?.forEach((notify) => notify());
      }
    }
    return released === keys.length;
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    return keys.some((key) => this.live(key) !== undefined);
  }

  watch(keys: readonly string[]): LockReleaseWatch {
    const latch = new ReleaseLatch();
    for (const key of keys) {
      const set = this.watchers.get(key) ?? new Set();
      set.add(latch.notify);
      this.watchers.set(key, set);
    }
    return {
      ready: Promise.resolve(),
      next: (timeout, signal) => latch.wait(timeout, signal),
      close: () => {
        for (const key of keys) {
          const set = this.watchers.get(key);
          set?.delete(latch.notify);
          if (set?.size === 0) {
            this.watchers.delete(key);
          }
        }
      },
    };
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.watchers.clear();
  }

  private sweep(): void {
    for (const key of this.entries.keys()) {
      this.live(key);
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

import { clock } from '../../utils/clock.util.js';
import { DEFAULT_STARVATION, FENCE_BLOCK } from '../../lock.constants.js';
import type { LockReleaseWatch, LockShare, LockStore, LockStoreAcquireResult, LockStoreReleaseOptions } from '../../interfaces/index.js';
import { conflictingShareError, shareCapacity, shareTag } from '../../utils/lock-share.util.js';
import { ReleaseLatch } from '../release.latch.js';
import { MemorySharedHolds, type MemorySharedHold } from './memory-shared.holds.js';
import { MemoryWaiterQueues, type MemoryWaiter } from './memory-waiter.queues.js';

/** Expired entries of keys nobody asks for again are dropped every this many acquisitions. */
const SWEEP_EVERY = 1000;

interface Entry {
  readonly token: string;
  expiresAt: number;
  /** The fencing token it was granted with. */
  readonly fence: number;
}

/** Where a key stands for a caller that would share it. */
interface ShareState {
  readonly exclusive?: Entry;
  readonly shared?: MemorySharedHold;
  /** How many more holders fit. */
  readonly room: number;
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
 * FIFO waiter queues with bounded barging, wake-up on release), for single-process apps and tests (`LockTestingModule`
 * of `nest-lock/testing` runs on it). Locks are not shared between processes.
 */
export class MemoryLockStore implements LockStore {
  /** Read locks and semaphore permits are supported. */
  readonly shares = true;
  private readonly entries = new Map<string, Entry>();
  private readonly shared = new MemorySharedHolds();
  private readonly queues = new MemoryWaiterQueues();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly starvation: number;
  /** One counter for all keys: it grows strictly for each key, and stays bounded. */
  private fence = 0;
  private acquisitions = 0;

  /** @param options fairness settings */
  constructor(options: MemoryLockStoreOptions = {}) {
    this.starvation = options.starvation ?? DEFAULT_STARVATION;
  }

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0, share?: LockShare): Promise<LockStoreAcquireResult> {
    if (++this.acquisitions % SWEEP_EVERY === 0) {
      this.sweep();
    }
    if (share) {
      return this.acquireShared(keys, token, ttl, wait, share);
    }
    const sharedBy = keys.map((key) => this.shared.live(key)?.tag).find((tag) => tag?.startsWith('s'));
    if (sharedBy) {
      throw conflictingShareError(keys[0], sharedBy, undefined);
    }
    const now = clock.now();
    const entry = keys.length === 1 ? this.live(keys[0]) : undefined;
    if (entry?.token === token) {
      entry.expiresAt = now + ttl;
      return { acquired: true, fencingToken: entry.fence, reserved: FENCE_BLOCK };
    }
    const blocker = keys.map((key) => this.live(key) ?? this.shared.blocker(key)).find((found) => found !== undefined);
    const head = keys.length === 1 ? this.queues.head(keys[0]) : undefined;
    if (!blocker && (!head || head.token === token || this.mayBarge(head, now))) {
      const fencingToken = this.nextFence(keys.length === 1 ? FENCE_BLOCK : 1);
      for (const key of keys) {
        this.entries.set(key, { token, expiresAt: now + ttl, fence: fencingToken });
      }
      if (head) {
        this.queues.dequeue(keys[0], token);
      }
      return { acquired: true, fencingToken, reserved: keys.length === 1 ? FENCE_BLOCK : 1 };
    }
    if (keys.length === 1 && wait > 0) {
      this.queues.enqueue(keys[0], token, ttl, now, now + wait);
    }
    // A free key kept for the head: it may take it and let its lease run out unannounced, so ask again within its ttl.
    const waiter = head as MemoryWaiter;
    const until = blocker ? blocker.expiresAt : Math.min(waiter.deadline, now + Math.min(ttl, waiter.ttl));
    return { acquired: false, retryAfter: Math.max(1, Math.ceil(until - now)), lastFencingToken: this.fence };
  }

  async extend(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<boolean> {
    const expiresAt = clock.now() + ttl;
    if (share) {
      const holds = keys.map((key) => this.shared.live(key));
      if (!holds.every((hold) => hold?.tag === shareTag(share) && hold.holders.has(token))) {
        return false;
      }
      holds.forEach((hold) => hold?.holders.set(token, expiresAt));
      return true;
    }
    if (!keys.every((key) => this.live(key)?.token === token)) {
      return false;
    }
    for (const key of keys) {
      (this.entries.get(key) as Entry).expiresAt = expiresAt;
    }
    return true;
  }

  async release(keys: readonly string[], token: string, options: LockStoreReleaseOptions = {}): Promise<boolean> {
    const keepFor = options.keepFor ?? 0;
    if (options.share) {
      return this.releaseShared(keys, token, shareTag(options.share), keepFor);
    }
    let released = 0;
    for (const key of keys) {
      const entry = this.live(key);
      if (entry?.token !== token) {
        continue;
      }
      released += 1;
      if (keepFor > 0) {
        entry.expiresAt = clock.now() + keepFor;
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
      this.queues.dequeue(key, token);
      const holder = this.live(key);
      if (holder?.token === token) {
        this.entries.delete(key);
      }
      this.shared.drop(key, token);
      if (!holder || holder.token === token) {
        this.announce(key, false);
      }
    }
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    return keys.some((key) => this.live(key) !== undefined || this.shared.live(key) !== undefined);
  }

  async holder(key: string): Promise<string | undefined> {
    return this.live(key)?.token;
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
    this.shared.clear();
    this.queues.clear();
    this.listeners.clear();
  }

  /** A running caller may take a free lock before the head of its queue while the head has waited less than the bound. */
  private mayBarge(head: MemoryWaiter, now: number): boolean {
    return this.starvation > 0 && now - head.arrival < this.starvation;
  }

  /**
   * A read lock or a permit of each key, all or nothing, in FIFO order with the key's waiters (see the Redis
   * store); several keys do not queue.
   */
  private acquireShared(keys: readonly string[], token: string, ttl: number, wait: number, share: LockShare): LockStoreAcquireResult {
    const now = clock.now();
    const tag = shareTag(share);
    const states = keys.map((key) => this.shareState(key, tag, share));
    const mine = keys.length === 1 && states[0].shared?.holders.has(token);
    if (mine || states.every((state, i) => !state.exclusive && this.queues.admits(keys[i], token, tag, state.room))) {
      for (const key of keys) {
        this.shared.hold(key, tag, token, now + ttl);
        this.queues.dequeue(key, token);
      }
      return { acquired: true, fencingToken: this.nextFence(1), reserved: 1 };
    }
    if (keys.length === 1 && wait > 0) {
      this.queues.enqueue(keys[0], token, ttl, now, now + wait, tag);
    }
    const [{ exclusive, shared, room }] = states;
    const until = exclusive?.expiresAt ?? (room <= 0 && shared ? Math.min(...shared.holders.values()) : now + ttl);
    return { acquired: false, retryAfter: Math.max(1, Math.ceil(until - now)), lastFencingToken: this.fence };
  }

  /** Where `key` stands for a caller sharing it as `tag`; throws when its holders share it otherwise. */
  private shareState(key: string, tag: string, share: LockShare): ShareState {
    const exclusive = this.live(key);
    const shared = this.shared.live(key);
    if ((shared && shared.tag !== tag) || (exclusive && tag !== 'r')) {
      throw conflictingShareError(key, shared?.tag ?? 'x', share);
    }
    return { exclusive, shared, room: shareCapacity(tag) - (shared?.holders.size ?? 0) };
  }

  private releaseShared(keys: readonly string[], token: string, tag: string, keepFor: number): boolean {
    let released = 0;
    for (const key of keys) {
      const hold = this.shared.live(key);
      if (hold?.tag !== tag || !hold.holders.has(token)) {
        continue;
      }
      released += 1;
      if (keepFor > 0) {
        hold.holders.set(token, clock.now() + keepFor);
        this.tell(key, { kind: 'kept', recheck: keepFor });
      } else {
        this.shared.drop(key, token);
        this.announce(key, false);
      }
    }
    return released === keys.length;
  }

  /** Gives the room a release left to the run of sharers at the head of the queue that fit (see the Redis store). */
  private grantShared(key: string): void {
    if (this.live(key)) {
      return;
    }
    const now = clock.now();
    let hold = this.shared.live(key);
    for (const waiter of [...this.queues.live(key)]) {
      const tag = waiter.tag;
      if (!tag || (hold && hold.tag !== tag) || (hold?.holders.size ?? 0) >= shareCapacity(tag)) {
        return;
      }
      const lease = Math.min(waiter.ttl, waiter.deadline - now);
      hold = this.shared.hold(key, tag, waiter.token, now + lease);
      this.queues.dequeue(key, waiter.token);
      this.tell(key, { kind: 'granted', grantee: waiter.token, fencingToken: this.nextFence(1), lease });
    }
  }

  /** Hands a free key to the head of its queue, wakes the head, or tells anyone it is free (see the Redis store). */
  private announce(key: string, yieldTurn: boolean): void {
    const head = this.queues.head(key);
    if (!head) {
      this.tell(key, { kind: 'free' });
      return;
    }
    if (head.tag) {
      this.grantShared(key);
      return;
    }
    const now = clock.now();
    const sharers = this.shared.blocker(key);
    if (sharers) {
      this.tell(key, { kind: 'kept', recheck: sharers.expiresAt - now });
      return;
    }
    if (!yieldTurn && this.mayBarge(head, now)) {
      this.tell(key, { kind: 'woken', grantee: head.token, recheck: Math.min(head.deadline - now, this.starvation) });
      return;
    }
    const lease = Math.min(head.ttl, head.deadline - now);
    const fencingToken = this.nextFence(FENCE_BLOCK);
    this.entries.set(key, { token: head.token, expiresAt: now + lease, fence: fencingToken });
    this.queues.dequeue(key, head.token);
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

  private sweep(): void {
    for (const key of this.entries.keys()) {
      this.live(key);
    }
    this.queues.sweep();
    this.shared.sweep();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

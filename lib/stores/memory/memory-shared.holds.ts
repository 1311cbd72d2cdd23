import { clock } from '../../utils/clock.util.js';

/** The shared holders of a key: how they share it, and each token's lease end (`clock.now()` time). */
export interface MemorySharedHold {
  readonly tag: string;
  readonly holders: Map<string, number>;
}

/** The memory store's read locks and semaphore permits, per key; a holder whose lease ended is dropped when looked at. */
export class MemorySharedHolds {
  private readonly holds = new Map<string, MemorySharedHold>();

  /** The holders of `key` whose lease runs, if any. */
  live(key: string): MemorySharedHold | undefined {
    const hold = this.holds.get(key);
    if (!hold) {
      return undefined;
    }
    const now = clock.now();
    for (const [token, expiresAt] of hold.holders) {
      if (expiresAt <= now) {
        hold.holders.delete(token);
      }
    }
    if (hold.holders.size === 0) {
      this.holds.delete(key);
      return undefined;
    }
    return hold;
  }

  /**
   * Gives (or renews) `token` a shared hold of `key` until `expiresAt`.
   * @param tag how the holders share the key
   */
  hold(key: string, tag: string, token: string, expiresAt: number): MemorySharedHold {
    const hold = this.holds.get(key) ?? { tag, holders: new Map<string, number>() };
    hold.holders.set(token, expiresAt);
    this.holds.set(key, hold);
    return hold;
  }

  /** Ends the shared hold of `token` on `key`, if it has one. */
  drop(key: string, token: string): void {
    const hold = this.holds.get(key);
    if (hold?.holders.delete(token) && hold.holders.size === 0) {
      this.holds.delete(key);
    }
  }

  /** Shared holders block an exclusive caller until the last one's lease ends. */
  blocker(key: string): { expiresAt: number } | undefined {
    const hold = this.live(key);
    return hold && { expiresAt: Math.max(...hold.holders.values()) };
  }

  /** Drops the ended holds of every key. */
  sweep(): void {
    for (const key of [...this.holds.keys()]) {
      this.live(key);
    }
  }

  /** Forgets everything (the store closed). */
  clear(): void {
    this.holds.clear();
  }
}

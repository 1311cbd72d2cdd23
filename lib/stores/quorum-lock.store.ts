import { performance } from 'node:perf_hooks';
import { InvalidLockOptionsError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockReleaseWatch, LockStore, LockStoreAcquireResult, LockStoreGrant } from '../interfaces/index.js';
import type { RedisLockStore } from './redis-lock.store.js';

/**
 * Redlock over independent Redis masters: an operation counts when a majority of nodes did it. An acquisition is
 * valid for `ttl - elapsed - drift` (drift = 1% of ttl + 2 ms), counted from the start of the attempt; a failed
 * round is rolled back on every node. Fencing tokens: after a majority grants, the highest of their tokens is
 * written back to those nodes' counters, so every later majority (which shares a node with this one) issues a
 * higher token, also when a minority of nodes restarted empty. Waiters are not queued in this mode; they are woken
 * by a release message from any node, or re-check when the holder's lease ends.
 */
export class QuorumLockStore implements LockStore {
  private readonly quorum: number;

  /** @param nodes one store per independent master (3 or 5 are usual) */
  constructor(private readonly nodes: readonly RedisLockStore[]) {
    if (nodes.length < 3) {
      throw new InvalidLockOptionsError(
        `LockModule options: a quorum needs at least 3 independent Redis masters, got ${nodes.length}; use one URL for a single Redis.`,
      );
    }
    this.quorum = Math.floor(nodes.length / 2) + 1;
  }

  async acquire(keys: readonly string[], token: string, ttl: number): Promise<LockStoreAcquireResult> {
    const started = performance.now();
    const round = await this.majority(
      (node) => node.acquire(keys, token, ttl, 0),
      (result) => result.acquired,
    );
    const granted = round.succeeded.filter((entry) => entry.value.acquired) as Array<{ node: RedisLockStore; value: LockStoreGrant }>;
    const validity = ttl - (performance.now() - started) - (ttl * 0.01 + 2);
    if (granted.length >= this.quorum && validity > 0) {
      const fencingToken = Math.max(...granted.map((entry) => entry.value.fencingToken));
      const raised = await this.majority(
        (node) => node.raiseFence(keys, fencingToken).then(() => true),
        () => true,
        granted.map((entry) => entry.node),
      );
      const lease = Math.floor(ttl - (performance.now() - started) - (ttl * 0.01 + 2));
      if (raised.succeeded.length >= this.quorum && lease > 0) {
        return { acquired: true, fencingToken, lease };
      }
    }
    // Roll back on every node, including those that did not answer in time: their attempt may still run.
    void this.everywhere((node) => node.release(keys, token));
    if (round.failed.length > this.nodes.length - this.quorum) {
      throw this.quorumError(`acquire lock ${JSON.stringify(keys.length === 1 ? keys[0] : keys)}`, round.failed.length);
    }
    const waits = round.succeeded.map((entry) => (entry.value.acquired ? undefined : entry.value.retryAfter));
    const known = waits.filter((wait): wait is number => wait !== undefined);
    return { acquired: false, retryAfter: known.length > 0 ? Math.min(...known) : undefined };
  }

  async extend(keys: readonly string[], token: string, ttl: number): Promise<boolean> {
    const round = await this.majority((node) => node.extend(keys, token, ttl), (extended) => extended);
    if (round.failed.length > this.nodes.length - this.quorum) {
      throw this.quorumError(`extend lock ${JSON.stringify(keys)}`, round.failed.length);
    }
    return round.succeeded.filter((entry) => entry.value).length >= this.quorum;
  }

  async release(keys: readonly string[], token: string, keepFor = 0): Promise<boolean> {
    // Sent to every node; answered once a majority has released it (a frozen node does not hold this up).
    const round = await this.majority((node) => node.release(keys, token, keepFor), (released) => released);
    return round.succeeded.filter((entry) => entry.value).length >= this.quorum;
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    const round = await this.majority((node) => node.isLocked(keys), (locked) => locked);
    if (round.failed.length > this.nodes.length - this.quorum) {
      throw this.quorumError(`check lock ${JSON.stringify(keys)}`, round.failed.length);
    }
    return round.succeeded.filter((entry) => entry.value).length >= this.quorum;
  }

  watch(keys: readonly string[], token: string, onlyIfLive = false): LockReleaseWatch | undefined {
    const watches = this.nodes.map((node) => node.watch(keys, token, onlyIfLive));
    if (watches.some((watch) => watch === undefined)) {
      watches.forEach((watch) => watch?.close());
      return undefined;
    }
    const live = watches as LockReleaseWatch[];
    return {
      // One live subscription is enough to be woken: a release runs on every node.
      ready: Promise.any(live.map((watch) => watch.ready)).catch(() => undefined),
      next: (timeout, signal) => Promise.race(live.map((watch) => watch.next(timeout, signal))),
      close: () => live.forEach((watch) => watch.close()),
    };
  }

  async ping(): Promise<void> {
    const round = await this.majority((node) => node.ping().then(() => true), () => true);
    if (round.succeeded.length < this.quorum) {
      throw this.quorumError('ping', round.failed.length);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.close()));
  }

  /** How many nodes answer right now, for health checks. */
  async nodesUp(): Promise<{ up: number; total: number; quorum: number }> {
    const answers = await Promise.allSettled(this.nodes.map((node) => node.ping()));
    return { up: answers.filter((answer) => answer.status === 'fulfilled').length, total: this.nodes.length, quorum: this.quorum };
  }

  /**
   * Runs `operation` on the nodes and resolves as soon as a majority succeeded, or as soon as a majority can no
   * longer succeed, without waiting for a frozen node's command timeout.
   */
  private majority<T>(
    operation: (node: RedisLockStore) => Promise<T>,
    success: (value: T) => boolean,
    nodes: readonly RedisLockStore[] = this.nodes,
  ): Promise<{ succeeded: Array<{ node: RedisLockStore; value: T }>; failed: unknown[] }> {
    return new Promise((resolve) => {
      const succeeded: Array<{ node: RedisLockStore; value: T }> = [];
      const failed: unknown[] = [];
      let wins = 0;
      let pending = nodes.length;
      const settle = (): void => {
        pending -= 1;
        if (wins >= this.quorum || nodes.length - (failed.length + succeeded.length - wins) < this.quorum || pending === 0) {
          resolve({ succeeded: [...succeeded], failed: [...failed] });
        }
      };
      for (const node of nodes) {
        operation(node).then(
          (value) => {
            succeeded.push({ node, value });
            wins += success(value) ? 1 : 0;
            settle();
          },
          (error: unknown) => {
            failed.push(error);
            settle();
          },
        );
      }
    });
  }

  private everywhere<T>(operation: (node: RedisLockStore) => Promise<T>): Promise<unknown> {
    return Promise.allSettled(this.nodes.map(operation));
  }

  private quorumError(operation: string, failed: number): LockStoreUnavailableError {
    return new LockStoreUnavailableError(
      operation,
      new Error(`quorum not reached: ${this.nodes.length - failed} of ${this.nodes.length} Redis nodes answered, ${this.quorum} needed`),
    );
  }
}

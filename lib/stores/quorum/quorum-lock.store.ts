import { clock } from '../../utils/clock.util.js';
import { InvalidLockOptionsError, LockStoreUnavailableError } from '../../errors/index.js';
import type {
  LockReleaseWatch,
  LockStore,
  LockStoreAcquireResult,
  LockStoreGrant,
  LockStoreReleaseOptions,
} from '../../interfaces/index.js';
import type { RedisLockStore } from '../redis/redis-lock.store.js';
import { startTimer } from '../../utils/timer.util.js';
import { formatKeys } from '../../utils/lock-keys.util.js';

/** What a round of one operation on the nodes came to. */
interface QuorumRound<T> {
  /** The nodes that answered in time, with their answers. */
  succeeded: Array<{ node: RedisLockStore; value: T }>;
  /** Nodes that failed or had not answered when the round ended. */
  unanswered: number;
  /** The round ended at its time limit, with nodes still to answer. */
  cut: boolean;
}

/** When one acquisition attempt started, when its grant would stop being worth anything, and when it gives up. */
interface QuorumAttempt {
  readonly started: number;
  readonly validUntil: number;
  readonly until: number;
}

/** What cut an attempt short, for messages. */
function describeLimit(attempt: QuorumAttempt): string {
  const limit = Math.round(attempt.until - attempt.started);
  return attempt.until < attempt.validUntil ? `one command timeout (${limit} ms)` : `the lock's validity (${limit} ms)`;
}

/** An extension of one token in flight on some node, and whether the lock was released meanwhile. */
interface Extension {
  released: boolean;
  pending: number;
}

/** The clock drift Redlock deducts from a lease: 1% of the ttl plus 2 ms. */
function drift(ttl: number): number {
  return ttl * 0.01 + 2;
}

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
  /** Longest time one attempt may take, in ms: the nodes' command timeout. */
  private readonly commandTimeout: number;
  /** Extensions some node has not answered yet, by token. */
  private readonly extensions = new Map<string, Extension>();

  /** @param nodes one store per independent master (3 or 5 are usual) */
  constructor(private readonly nodes: readonly RedisLockStore[]) {
    if (nodes.length < 3) {
      throw new InvalidLockOptionsError(
        `LockModule options: a quorum needs at least 3 independent Redis masters, got ${nodes.length}; use one URL for a single Redis.`,
      );
    }
    this.quorum = Math.floor(nodes.length / 2) + 1;
    this.commandTimeout = Math.max(...nodes.map((node) => node.commandTimeout));
  }

  async acquire(keys: readonly string[], token: string, ttl: number): Promise<LockStoreAcquireResult> {
    const started = clock.now();
    // Past its validity a grant is worthless, and an attempt takes one command timeout at most, as on one Redis:
    // no round (the majority's answers, then the fencing write-back) waits longer for a slow node.
    const validUntil = started + ttl - drift(ttl);
    const attempt = { started, validUntil, until: Math.min(validUntil, started + this.commandTimeout) };
    const operation = `acquire lock ${formatKeys(keys)}`;
    const round = await this.majority(
      (node) => node.attemptOnce(keys, token, ttl),
      (result) => result.acquired,
      this.nodes,
      attempt.until,
    );
    const granted = round.succeeded.filter((entry) => entry.value.acquired) as Array<{ node: RedisLockStore; value: LockStoreGrant }>;
    try {
      if (granted.length >= this.quorum) {
        return await this.grantMajority(keys, granted, attempt, operation);
      }
      if (round.unanswered > this.nodes.length - this.quorum) {
        throw this.quorumError(operation, round.unanswered, round.cut ? ` within ${describeLimit(attempt)}` : '');
      }
    } catch (error) {
      this.rollBack(keys, token);
      throw error;
    }
    this.rollBack(keys, token);
    const waits = round.succeeded.map((entry) => (entry.value.acquired ? undefined : entry.value.retryAfter));
    const known = waits.filter((wait): wait is number => wait !== undefined);
    return { acquired: false, retryAfter: known.length > 0 ? Math.min(...known) : undefined };
  }

  /**
   * A majority granted: the highest of their tokens is written back to them, and the lock is handed out with the
   * validity left. A majority that answered too late, or a write-back a majority did not confirm in time, is an
   * availability failure (Redis did not answer in time), never "busy".
   */
  private async grantMajority(
    keys: readonly string[],
    granted: Array<{ node: RedisLockStore; value: LockStoreGrant }>,
    attempt: QuorumAttempt,
    operation: string,
  ): Promise<LockStoreAcquireResult> {
    const late = (): LockStoreUnavailableError =>
      new LockStoreUnavailableError(
        operation,
        new Error(`a majority did not grant it and record its fencing token within ${describeLimit(attempt)}`),
      );
    if (clock.now() >= attempt.until) {
      throw late();
    }
    const fencingToken = Math.max(...granted.map((entry) => entry.value.fencingToken));
    const raised = await this.majority(
      (node) => node.raiseFence(keys, fencingToken).then(() => true),
      () => true,
      granted.map((entry) => entry.node),
      attempt.until,
    );
    if (raised.succeeded.length < this.quorum) {
      throw clock.now() >= attempt.until
        ? late()
        : this.quorumError(`record the fencing token of ${operation.slice(8)}`, raised.unanswered);
    }
    const lease = Math.floor(attempt.validUntil - clock.now());
    if (lease <= 0) {
      throw late();
    }
    return { acquired: true, fencingToken, lease };
  }

  /**
   * Releases on every node, including those that did not answer in time: their attempt may still run. Sent now, on
   * each node's connection: it reaches each node before any later round of the same token.
   */
  private rollBack(keys: readonly string[], token: string): void {
    void this.everywhere((node) => node.release(keys, token));
  }

  async extend(keys: readonly string[], token: string, ttl: number): Promise<boolean> {
    // A majority that still has the lock means nobody else can have it: the key is put back (SET NX, so a foreign
    // value stays untouched) on each node that lost it (restarted empty), so that restarting nodes one at a time
    // never whittles the majority away. Nodes answering after the round are put right as they answer.
    let extended: boolean | undefined;
    const lostEarly: RedisLockStore[] = [];
    const extension = this.startExtension(token);
    // Never after the lock's release: a node that answers late would get back a key nobody holds any more.
    const putBack = (node: RedisLockStore): Promise<unknown> =>
      extension.released ? Promise.resolve() : node.attemptOnce(keys, token, ttl).catch(() => undefined);
    const answers = this.nodes.map((node) =>
      node.extend(keys, token, ttl).then((held) => {
        if (!held && extended === undefined) {
          lostEarly.push(node);
        } else if (!held && extended) {
          void putBack(node);
        }
        return held;
      }),
    );
    void Promise.allSettled(answers).then(() => this.endExtension(token, extension));
    const round = await this.majority(
      (node) => answers[this.nodes.indexOf(node)],
      (held) => held,
    );
    if (round.unanswered > this.nodes.length - this.quorum) {
      extended = false;
      throw this.quorumError(`extend lock ${JSON.stringify(keys)}`, round.unanswered);
    }
    extended = round.succeeded.filter((entry) => entry.value).length >= this.quorum;
    if (extended) {
      await Promise.all(lostEarly.map(putBack));
    }
    return extended;
  }

  /** Registers an extension of `token` until every node answered it (or gave up), so a release can stop its put-backs. */
  private startExtension(token: string): Extension {
    const extension = this.extensions.get(token) ?? { released: false, pending: 0 };
    extension.pending += 1;
    this.extensions.set(token, extension);
    return extension;
  }

  private endExtension(token: string, extension: Extension): void {
    extension.pending -= 1;
    if (extension.pending === 0 && this.extensions.get(token) === extension) {
      this.extensions.delete(token);
    }
  }

  async release(keys: readonly string[], token: string, options: LockStoreReleaseOptions = {}): Promise<boolean> {
    const extension = this.extensions.get(token);
    if (extension) {
      extension.released = true;
    }
    // Sent to every node; answered once a majority has released it (a frozen node does not hold this up).
    const round = await this.majority(
      (node) => node.release(keys, token, options),
      (released) => released,
    );
    return round.succeeded.filter((entry) => entry.value).length >= this.quorum;
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    const round = await this.majority(
      (node) => node.isLocked(keys),
      (locked) => locked,
    );
    if (round.unanswered > this.nodes.length - this.quorum) {
      throw this.quorumError(`check lock ${JSON.stringify(keys)}`, round.unanswered);
    }
    return round.succeeded.filter((entry) => entry.value).length >= this.quorum;
  }

  /** The token a majority of the nodes hold the key for; undefined if no token has a majority. */
  async holder(key: string): Promise<string | undefined> {
    const round = await this.majority(
      (node) => node.holder(key),
      (token) => token !== undefined,
    );
    if (round.unanswered > this.nodes.length - this.quorum) {
      throw this.quorumError(`read the holder of lock ${JSON.stringify(key)}`, round.unanswered);
    }
    const tokens = round.succeeded.map((entry) => entry.value);
    return tokens.find((token) => token !== undefined && tokens.filter((seen) => seen === token).length >= this.quorum);
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

  drift(ttl: number): number {
    return drift(ttl);
  }

  async ping(): Promise<void> {
    const round = await this.majority(
      (node) => node.ping().then(() => true),
      () => true,
    );
    if (round.succeeded.length < this.quorum) {
      throw this.quorumError('ping', round.unanswered);
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
   * Runs `operation` on the nodes and resolves as soon as a majority succeeded, as soon as a majority can no
   * longer succeed, or at `until` (`clock.now()` time), without waiting for a frozen node's command timeout.
   * `unanswered` counts the nodes that failed or had not answered by then.
   */
  private majority<T>(
    operation: (node: RedisLockStore) => Promise<T>,
    success: (value: T) => boolean,
    nodes: readonly RedisLockStore[] = this.nodes,
    until = Number.POSITIVE_INFINITY,
  ): Promise<QuorumRound<T>> {
    return new Promise((resolve) => {
      const succeeded: Array<{ node: RedisLockStore; value: T }> = [];
      let wins = 0;
      let failed = 0;
      const finish = (cut = false): void => {
        timer.clear();
        resolve({ succeeded: [...succeeded], unanswered: nodes.length - succeeded.length, cut });
      };
      const timer = startTimer(() => finish(true), until - clock.now());
      const settle = (): void => {
        const undecided = nodes.length - succeeded.length - failed;
        if (wins >= this.quorum || nodes.length - (failed + succeeded.length - wins) < this.quorum || undecided === 0) {
          finish();
        }
      };
      for (const node of nodes) {
        operation(node).then(
          (value) => {
            succeeded.push({ node, value });
            wins += success(value) ? 1 : 0;
            settle();
          },
          () => {
            failed += 1;
            settle();
          },
        );
      }
    });
  }

  private everywhere<T>(operation: (node: RedisLockStore) => Promise<T>): Promise<unknown> {
    return Promise.allSettled(this.nodes.map(operation));
  }

  private quorumError(operation: string, unanswered: number, within = ''): LockStoreUnavailableError {
    return new LockStoreUnavailableError(
      operation,
      new Error(
        `quorum not reached: ${this.nodes.length - unanswered} of ${this.nodes.length} Redis nodes answered${within}, ${this.quorum} needed`,
      ),
    );
  }
}

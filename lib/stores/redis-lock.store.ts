import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_COMMAND_TIMEOUT, DEFAULT_PREFIX, FENCE_RETENTION } from '../lock.constants.js';
import { LockError, LockNotReplicatedError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockReleaseWatch, LockStore, LockStoreAcquireResult } from '../interfaces/index.js';
import { createLockLogger, type LockLogger } from '../lock.logger.js';
import {
  ACQUIRE_SCRIPT,
  CLASSIC_ANNOUNCING_SCRIPTS,
  EXTEND_SCRIPT,
  FAIR_ACQUIRE_SCRIPT,
  RAISE_FENCE_SCRIPT,
  SHARDED_ANNOUNCING_SCRIPTS,
  type AnnouncingScripts,
  type LockScript,
} from './redis-lock.scripts.js';
import { RedisReleaseSubscriber } from './redis-release.subscriber.js';
import { startTimer } from '../utils/timer.util.js';

/** Options of {@link RedisLockStore}. */
export interface RedisLockStoreOptions {
  /** An ioredis `Redis` or `Cluster` client. A `keyPrefix` set on it is honoured. */
  client: Redis | Cluster;
  /**
   * Close `client` when the store closes. Leave it off for a client you share with the rest of your app.
   * @default false
   */
  ownsClient?: boolean;
  /**
   * Namespace of every key and channel the store writes.
   * @default 'lock:'
   */
  prefix?: string;
  /**
   * Longest wait for one command, in ms; after it the command counts as unanswered.
   * @default 2000
   */
  commandTimeout?: number;
  /**
   * `false` silences the store, a `LoggerService` replaces Nest's `Logger`.
   * @default Nest's Logger
   */
  logger?: false | LoggerService;
  /**
   * After each acquire and release, `WAIT` until `count` replicas have the write, for at most `timeoutMs`; fewer
   * confirmations fail the operation with `LockNotReplicatedError` (an acquisition is rolled back first).
   * @default undefined (no waiting for replicas)
   */
  replicas?: LockReplicasOptions;
}

/** How many replicas must confirm a lock write, and how long to wait for them. */
export interface LockReplicasOptions {
  /** Replicas that must confirm. */
  count: number;
  /** Longest wait for the confirmations, in ms. */
  timeoutMs: number;
}

/** Replies that mean "not now" rather than "never": the server is loading, failing over or busy. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * The Redis backend. Each lock key `k` lives at `<prefix>{k}` with its fencing counter at `<prefix>{k}:fence`,
 * so both share one Cluster hash slot. Every operation is one Lua script, run by SHA.
 */
export class RedisLockStore implements LockStore {
  private readonly client: Redis | Cluster;
  private readonly prefix: string;
  private readonly commandTimeout: number;
  private readonly ownsClient: boolean;
  private readonly logger: LockLogger;
  private readonly subscriber: RedisReleaseSubscriber;
  private ready?: Promise<void>;
  private lastConnectionError?: string;
  private readonly replicas?: LockReplicasOptions;
  /** A Cluster client: keys of different locks may live in different slots, so several keys go one by one. */
  private readonly cluster: boolean;

  /** @param options where Redis is and how to talk to it */
  constructor(options: RedisLockStoreOptions) {
    this.client = options.client;
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.commandTimeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
    this.ownsClient = options.ownsClient ?? false;
    this.replicas = options.replicas;
    this.cluster = typeof (this.client as Cluster).nodes === 'function';
    this.logger = createLockLogger(RedisLockStore.name, options.logger);
    this.subscriber = new RedisReleaseSubscriber({
      connect: () =>
        this.cluster ? (this.client as Cluster).duplicate([], { shardedSubscribers: true, lazyConnect: true }) : this.client.duplicate(),
      cluster: this.cluster,
      keyPrefix: this.keyPrefix(),
      logger: this.logger,
    });
    if (this.ownsClient) {
      this.reportOutages();
    }
  }

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0): Promise<LockStoreAcquireResult> {
    if (this.cluster && keys.length > 1) {
      return this.acquireKeyByKey(keys, token, ttl);
    }
    // The script may still run after we gave up on it: free whatever it took, and its queue entry, by token.
    const cleanUp = (): void => void (wait > 0 ? this.leave(keys, token, ttl) : this.release(keys, token)).catch(() => undefined);
    const reply =
      keys.length === 1
        ? await this.run(FAIR_ACQUIRE_SCRIPT, this.keySet(keys[0]), [token, ttl, FENCE_RETENTION, wait], 'acquire', keys, cleanUp)
        : await this.run(
            ACQUIRE_SCRIPT,
            [...keys.map((key) => this.lockKey(key)), ...keys.map((key) => this.fenceKey(key))],
            [token, ttl, FENCE_RETENTION],
            'acquire',
            keys,
            cleanUp,
          );
    const [acquired, value, last] = asArray(reply);
    if (toNumber(acquired) === 1) {
      await this.confirmReplicated(keys, 'acquire').catch(async (error: unknown) => {
        await this.release(keys, token).catch(() => undefined);
        throw error;
      });
      return { acquired: true, fencingToken: toNumber(value) };
    }
    const retryAfter = toNumber(value);
    return {
      acquired: false,
      retryAfter: retryAfter >= 0 ? retryAfter : undefined,
      lastFencingToken: last === undefined ? undefined : toNumber(last),
    };
  }

  async extend(keys: readonly string[], token: string, ttl: number): Promise<boolean> {
    if (this.cluster && keys.length > 1) {
      return this.everyKey(keys, (key) => this.extend([key], token, ttl));
    }
    const reply = await this.run(EXTEND_SCRIPT, keys.map((key) => this.lockKey(key)), [token, ttl], 'extend', keys);
    return toNumber(reply) === 1;
  }

  async release(keys: readonly string[], token: string, keepFor = 0): Promise<boolean> {
    if (this.cluster && keys.length > 1) {
      return this.everyKey(keys, (key) => this.release([key], token, keepFor));
    }
    const reply = await this.run(
      this.announcing().release,
      keys.flatMap((key) => this.keySet(key)),
      [token, FENCE_RETENTION, Math.max(0, Math.ceil(keepFor))],
      'release',
      keys,
    );
    await this.confirmReplicated(keys, 'release');
    return toNumber(reply) === keys.length;
  }

  async leave(keys: readonly string[], token: string, ttl: number): Promise<void> {
    if (this.cluster && keys.length > 1) {
      await this.everyKey(keys, (key) => this.leave([key], token, ttl).then(() => true));
      return;
    }
    await this.run(this.announcing().leave, keys.flatMap((key) => this.keySet(key)), [token, ttl, FENCE_RETENTION], 'leave the queue of', keys);
  }

  /**
   * Raises each key's fencing counter to at least `fencingToken` (never lowers it). The quorum store uses it so
   * that a majority of nodes knows the highest token handed out.
   * @param keys the keys
   * @param fencingToken the token to remember
   */
  async raiseFence(keys: readonly string[], fencingToken: number): Promise<void> {
    await this.run(RAISE_FENCE_SCRIPT, keys.map((key) => this.fenceKey(key)), [fencingToken, FENCE_RETENTION], 'record the fencing token of', keys);
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    const counts = await this.guard('check', keys, () =>
      Promise.all(keys.map((key) => this.client.exists(this.lockKey(key)))),
    );
    return counts.some((count) => toNumber(count) > 0);
  }

  async ping(): Promise<void> {
    await this.guard('ping', [], () => this.client.ping());
  }

  watch(keys: readonly string[], token: string, onlyIfLive = false): LockReleaseWatch | undefined {
    const keyPrefix = this.keyPrefix();
    const watch = this.subscriber.watch(
      keys.map((key) => keyPrefix + this.lockKey(key)),
      token,
      onlyIfLive,
    );
    // The releaser's WAIT covers its own connection only: a waiter confirms a hand-off with an attempt of its own.
    return watch && this.replicas ? confirmingHandOffs(watch) : watch;
  }

  async close(): Promise<void> {
    await this.subscriber.close();
    if (this.ownsClient) {
      await closeClient(this.client);
    }
  }

  /**
   * Several keys on a Cluster, where they may live in different slots: taken one by one in a fixed order (so two
   * callers cannot deadlock), given back if one is busy; then every key's counter learns the highest fencing token.
   */
  private async acquireKeyByKey(keys: readonly string[], token: string, ttl: number): Promise<LockStoreAcquireResult> {
    const taken: string[] = [];
    let fencingToken = 0;
    // Whatever fails after a key was taken (a busy key, an unanswered one, the write-back), every key goes back.
    const giveBack = async (error: unknown): Promise<never> => {
      await this.release(keys, token).catch(() => undefined);
      throw error;
    };
    for (const key of [...keys].sort()) {
      const result = await this.acquire([key], token, ttl, 0).catch(giveBack);
      if (!result.acquired) {
        if (taken.length > 0) {
          await this.release(taken, token).catch(() => undefined);
        }
        return result;
      }
      taken.push(key);
      fencingToken = Math.max(fencingToken, result.fencingToken);
    }
    await Promise.all(keys.map((key) => this.raiseFence([key], fencingToken))).catch(giveBack);
    return { acquired: true, fencingToken };
  }

  private async everyKey(keys: readonly string[], operation: (key: string) => Promise<boolean>): Promise<boolean> {
    const results = await Promise.all(keys.map(operation));
    return results.every(Boolean);
  }

  /** Publishes releases the way the subscriber listens: sharded on a Cluster, where it can. */
  private announcing(): AnnouncingScripts {
    return this.subscriber.sharded ? SHARDED_ANNOUNCING_SCRIPTS : CLASSIC_ANNOUNCING_SCRIPTS;
  }

  private keyPrefix(): string {
    return (this.client.options as { keyPrefix?: string }).keyPrefix ?? '';
  }

  /** With the `replicas` option: WAIT until enough replicas have this connection's writes, or fail. */
  private async confirmReplicated(keys: readonly string[], operation: 'acquire' | 'release'): Promise<void> {
    if (!this.replicas) {
      return;
    }
    const { count, timeoutMs } = this.replicas;
    // WAIT counts the writes of the connection it runs on; a pipeline led by a key runs on that key's node
    // (the one connection a Cluster keeps to it), so it also works on a Cluster, where a bare WAIT goes anywhere.
    const waitForReplicas = async (): Promise<unknown> => {
      const replies = await this.client.pipeline().exists(this.lockKey(keys[0])).wait(count, timeoutMs).exec();
      const [error, reply] = replies?.[1] ?? [new Error('the pipeline was discarded'), 0];
      if (error) {
        throw error;
      }
      return reply;
    };
    const confirmed = toNumber(
      await this.guard(`wait for replicas of the ${operation} of`, keys, waitForReplicas, { blocksFor: timeoutMs }),
    );
    if (confirmed < count) {
      throw new LockNotReplicatedError(keys, confirmed, count, operation);
    }
  }

  /** Logs an outage once, and the recovery, instead of ioredis printing every failed reconnect. */
  private reportOutages(): void {
    let down = false;
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error.message;
      if (!down) {
        down = true;
        this.logger.warn(`Redis connection failed (${error.message}); lock operations fail until it is back.`);
      }
    });
    this.client.on('ready', () => {
      this.lastConnectionError = undefined;
      if (down) {
        down = false;
        this.logger.log('Redis connection is back.');
      }
    });
  }

  private lockKey(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  private fenceKey(key: string): string {
    return `${this.lockKey(key)}:fence`;
  }

  /** The lock, its fencing counter, its waiter queue and the queue's deadlines: one hash slot. */
  private keySet(key: string): string[] {
    const lock = this.lockKey(key);
    return [lock, this.fenceKey(key), `${lock}:q`, `${lock}:qt`];
  }

  private run(
    script: LockScript,
    redisKeys: readonly string[],
    args: ReadonlyArray<string | number>,
    operation: string,
    keys: readonly string[],
    onTimeout?: () => void,
  ): Promise<unknown> {
    const exchange = (): Promise<unknown> =>
      this.client.evalsha(script.sha, redisKeys.length, ...redisKeys, ...args).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
          return this.client.eval(script.source, redisKeys.length, ...redisKeys, ...args);
        }
        throw error;
      });
    return this.guard(operation, keys, exchange, { onTimeout, late: script.idempotent });
  }

  /**
   * Runs one exchange with Redis within `commandTimeout`, without queueing it on a connection that is down,
   * and turns connection trouble into {@link LockStoreUnavailableError}. An exchange still waiting for the
   * connection when its time is up is dropped, unless `late` says it is harmless to run it whenever it can.
   */
  private guard<T>(operation: string, keys: readonly string[], exchange: () => Promise<T>, options: GuardOptions = {}): Promise<T> {
    const limit = this.commandTimeout + (options.blocksFor ?? 0);
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const timer = startTimer(() => {
        expired = true;
        options.onTimeout?.();
        const last = this.lastConnectionError === undefined ? '' : `; last connection error: ${this.lastConnectionError}`;
        reject(new LockStoreUnavailableError(describeOperation(operation, keys), new Error(`no answer within ${limit} ms${last}`)));
      }, limit, false);
      const status = this.client.status;
      const sendWhenReady = (): Promise<T> =>
        expired && !options.late ? Promise.reject(new Error('gave up before the connection was ready')) : exchange();
      const sent = status === 'ready' || status === 'wait' ? exchange() : this.whenReady().then(sendWhenReady);
      sent.then(
        (value) => {
          timer.clear();
          resolve(value);
        },
        (error: unknown) => {
          timer.clear();
          reject(classify(error, describeOperation(operation, keys)));
        },
      );
    });
  }

  private whenReady(): Promise<void> {
    if (this.client.status === 'end') {
      return Promise.reject(new Error('the connection was closed'));
    }
    // Waiting here instead of sending keeps commands out of ioredis' offline queue, where they would run
    // long after their caller gave up.
    this.ready ??= new Promise((resolve) =>
      this.client.once('ready', () => {
        this.ready = undefined;
        resolve();
      }),
    );
    return this.ready;
  }
}

/** How {@link RedisLockStore.guard} runs one exchange. */
interface GuardOptions {
  /** Called when the exchange did not answer in time (it may still run on the server). */
  onTimeout?: () => void;
  /** The exchange may be sent after its caller gave up on it (a token-checked clean-up). */
  late?: boolean;
  /** ms the command itself may block on the server (WAIT), on top of `commandTimeout`. */
  blocksFor?: number;
}

/** Marks every hand-off of a watch as needing the waiter's own confirmation. */
function confirmingHandOffs(watch: LockReleaseWatch): LockReleaseWatch {
  return {
    ready: watch.ready,
    next: async (timeout, signal) => {
      const grant = await watch.next(timeout, signal);
      return grant && { ...grant, confirm: true };
    },
    close: () => watch.close(),
  };
}

function describeOperation(operation: string, keys: readonly string[]): string {
  if (keys.length === 0) {
    return operation;
  }
  return `${operation} lock ${keys.length === 1 ? JSON.stringify(keys[0]) : JSON.stringify(keys)}`;
}

function classify(error: unknown, what: string): unknown {
  if (error instanceof LockError) {
    return error;
  }
  if (error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message)) {
    return new LockError(`Could not ${what}: Redis refused it (${error.message}). Check the Redis user's permissions (see README, "ACL").`, 500, error);
  }
  return new LockStoreUnavailableError(what, error);
}

async function closeClient(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
  } else {
    client.disconnect();
  }
}

function asArray(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : [reply];
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'bigint' || typeof value === 'string') {
    return Number(value);
  }
  return Buffer.isBuffer(value) ? Number(value.toString('utf8')) : Number.NaN;
}

import type { LoggerService } from '@nestjs/common';
import { DEFAULT_COMMAND_TIMEOUT, DEFAULT_PREFIX, DEFAULT_STARVATION, FENCE_BLOCK, FENCE_RETENTION } from '../../lock.constants.js';
import { LockNotReplicatedError } from '../../errors/index.js';
import type { LockReleaseWatch, LockShare, LockStore, LockStoreAcquireResult, LockStoreReleaseOptions } from '../../interfaces/index.js';
import { createLockLogger } from '../../lock.logger.js';
import { MULTI_ACQUIRE, MUTEX_ACQUIRE, MUTEX_EXTEND, RAISE_FENCE } from './redis-mutex.scripts.js';
import { CLASSIC_RELEASE_SCRIPTS, SHARDED_RELEASE_SCRIPTS } from './redis-release.scripts.js';
import { CLASSIC_LEAVE_SCRIPT, SHARDED_LEAVE_SCRIPT } from './redis-leave.scripts.js';
import { SHARED_ACQUIRE, SHARED_EXTEND } from './redis-shared.scripts.js';
import { conflictingShareError, shareTag } from '../../utils/lock-share.util.js';
import { RedisCommandRunner, replyArray, replyNumber, type RedisOperation, type RedisScriptOptions } from './redis-command.runner.js';
import { RedisKeySchema } from './redis-key.schema.js';
import { RedisReleaseSubscriber } from './redis-release.subscriber.js';
import { RedisScriptLoader } from './redis-script.loader.js';
import { duplicateForSubscriber, isClusterConnection, toConnectionPort, type RedisClientInput } from './redis-client.js';
import type { RedisConnectionPort } from './redis-connection.port.js';

/** Every script the store runs, loaded together (see {@link RedisScriptLoader}). */
const STORE_SCRIPTS = [
  MUTEX_ACQUIRE,
  MULTI_ACQUIRE,
  MUTEX_EXTEND,
  RAISE_FENCE,
  SHARED_ACQUIRE,
  SHARED_EXTEND,
  ...[CLASSIC_RELEASE_SCRIPTS, SHARDED_RELEASE_SCRIPTS].flatMap((set) => [set.release, set.releaseMany, set.releaseShared]),
  CLASSIC_LEAVE_SCRIPT,
  SHARDED_LEAVE_SCRIPT,
];

/** Options of {@link RedisLockStore}. */
export interface RedisLockStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client (a `keyPrefix` set on it is honoured), a node-redis v4/v5 client or
   * cluster, or a Valkey GLIDE 2 client.
   */
  client: RedisClientInput;
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
  /**
   * How long, in ms, the head of a key's queue may wait before a release hands the lock straight to it; until
   * then a release only wakes it, and a running caller may take the free lock first. `0` hands every release to
   * the head: strict FIFO.
   * @default 0
   */
  starvation?: number;
  /**
   * A client the store owns: its failure to connect before it was ever ready is left to the start-up check
   * (`verifyConnection`), which reports it, instead of being logged as an outage too.
   * @internal
   */
  quietUntilReady?: boolean;
}

/** How many replicas must confirm a lock write, and how long to wait for them. */
export interface LockReplicasOptions {
  /** Replicas that must confirm. */
  count: number;
  /** Longest wait for the confirmations, in ms. */
  timeoutMs: number;
}

/**
 * The Redis backend. Each lock key `k` lives at `<prefix>{k}` with its fencing counter, waiter queue and deadlines
 * beside it (see {@link RedisKeySchema}), all in one Cluster hash slot. Every operation is one Lua script, run by SHA.
 */
export class RedisLockStore implements LockStore {
  /** Read locks and semaphore permits are supported. */
  readonly shares = true;
  private readonly client: RedisConnectionPort;
  private readonly keys: RedisKeySchema;
  private readonly ownsClient: boolean;
  private readonly commands: RedisCommandRunner;
  private readonly scripts: RedisScriptLoader;
  private readonly subscriber: RedisReleaseSubscriber;
  private readonly replicas?: LockReplicasOptions;
  private readonly starvation: number;
  /** A Cluster client: keys of different locks may live in different slots, so several keys go one by one. */
  private readonly cluster: boolean;

  /**
   * Longest wait for one command, in ms.
   * @internal
   */
  readonly commandTimeout: number;

  /** @param options where Redis is and how to talk to it */
  constructor(options: RedisLockStoreOptions) {
    this.client = toConnectionPort(options.client);
    this.keys = new RedisKeySchema(options.prefix ?? DEFAULT_PREFIX);
    this.ownsClient = options.ownsClient ?? false;
    this.replicas = options.replicas;
    this.starvation = options.starvation ?? DEFAULT_STARVATION;
    this.cluster = isClusterConnection(this.client);
    const logger = createLockLogger(RedisLockStore.name, options.logger);
    this.commandTimeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
    this.scripts = new RedisScriptLoader(this.client, STORE_SCRIPTS);
    this.commands = new RedisCommandRunner({
      client: this.client,
      scripts: this.scripts,
      commandTimeout: this.commandTimeout,
      logger,
      reportOutages: this.ownsClient,
      quietUntilReady: options.quietUntilReady,
    });
    this.subscriber = new RedisReleaseSubscriber({
      connect: () => duplicateForSubscriber(this.client),
      cluster: this.cluster,
      keyPrefix: this.keyPrefix(),
      logger,
    });
  }

  async acquire(keys: readonly string[], token: string, ttl: number, wait = 0, share?: LockShare): Promise<LockStoreAcquireResult> {
    // A script that timed out may still run: an attempt that will not wait frees whatever it took, by token. One that
    // waits leaves that to its caller, which either tries again with the same token (and finds a key handed to it
    // its own) or leaves the queue when it gives up: a clean-up sent now could reach Redis after that later attempt
    // and free the lock the caller then holds.
    return this.attempt(keys, token, ttl, wait, share, wait === 0);
  }

  /**
   * One attempt of a quorum round: not queued, and no clean-up of its own when it times out (the quorum store rolls
   * a failed round back at once, ahead of any later round of the same token).
   * @internal
   */
  attemptOnce(keys: readonly string[], token: string, ttl: number): Promise<LockStoreAcquireResult> {
    return this.attempt(keys, token, ttl, 0, undefined, false);
  }

  private async attempt(
    keys: readonly string[],
    token: string,
    ttl: number,
    wait: number,
    share: LockShare | undefined,
    cleansUp: boolean,
  ): Promise<LockStoreAcquireResult> {
    if (keys.length > 1 && (this.cluster || share)) {
      return this.acquireKeyByKey(keys, token, ttl, share);
    }
    const onTimeout = cleansUp ? (): void => void this.giveBack(keys, token, share) : undefined;
    const operation = { name: 'acquire', keys };
    const reply =
      keys.length === 1
        ? await this.commands.script(
            share ? SHARED_ACQUIRE : MUTEX_ACQUIRE,
            share
              ? SHARED_ACQUIRE.call(this.keys.keySet(keys[0]), { token, ttl, retention: FENCE_RETENTION, wait, tag: shareTag(share) })
              : MUTEX_ACQUIRE.call(this.keys.keySet(keys[0]), {
                  token,
                  ttl,
                  retention: FENCE_RETENTION,
                  wait,
                  starvation: this.starvation,
                }),
            operation,
            { onTimeout },
          )
        : await this.commands.script(
            MULTI_ACQUIRE,
            MULTI_ACQUIRE.call(
              keys.map((key) => this.keys.keySet(key)),
              { token, ttl, retention: FENCE_RETENTION },
            ),
            operation,
            { onTimeout },
          );
    const [acquired, value, last] = replyArray(reply);
    if (replyNumber(acquired) === 2) {
      throw conflictingShareError(keys[0], String(value), share);
    }
    if (replyNumber(acquired) === 1) {
      await this.confirmReplicated(keys, 'acquire').catch(async (error: unknown) => {
        await this.giveBack(keys, token, share);
        throw error;
      });
      return { acquired: true, fencingToken: replyNumber(value), reserved: keys.length === 1 && !share ? FENCE_BLOCK : 1 };
    }
    const retryAfter = replyNumber(value);
    return {
      acquired: false,
      retryAfter: retryAfter >= 0 ? retryAfter : undefined,
      lastFencingToken: last === undefined ? undefined : replyNumber(last),
    };
  }

  async extend(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<boolean> {
    if (this.cluster && keys.length > 1) {
      return this.everyKey(keys, (key) => this.extend([key], token, ttl, share));
    }
    const operation = { name: 'extend', keys };
    const keySets = keys.map((key) => this.keys.keySet(key));
    const reply = share
      ? await this.commands.script(SHARED_EXTEND, SHARED_EXTEND.call(keySets, { token, ttl, tag: shareTag(share) }), operation)
      : await this.commands.script(MUTEX_EXTEND, MUTEX_EXTEND.call(keySets, { token, ttl }), operation);
    return replyNumber(reply) === 1;
  }

  async release(keys: readonly string[], token: string, options: LockStoreReleaseOptions = {}): Promise<boolean> {
    if (this.cluster && keys.length > 1) {
      return this.everyKey(keys, (key) => this.release([key], token, options));
    }
    const released = await this.runRelease(keys, token, options);
    await this.confirmReplicated(keys, 'release');
    return released;
  }

  /**
   * Gives back what an attempt took and cannot keep (a grant the replicas did not confirm, the keys taken before a
   * busy one): no WAIT for replicas, which would make a failed attempt wait for them twice.
   */
  private async giveBack(keys: readonly string[], token: string, share: LockShare | undefined): Promise<void> {
    if (this.cluster && keys.length > 1) {
      await Promise.all(keys.map((key) => this.giveBack([key], token, share)));
      return;
    }
    await this.runRelease(keys, token, { share }, { whole: true }).catch(() => undefined);
  }

  private async runRelease(
    keys: readonly string[],
    token: string,
    options: LockStoreReleaseOptions,
    sending: RedisScriptOptions = {},
  ): Promise<boolean> {
    const keep = Math.max(0, Math.ceil(options.keepFor ?? 0));
    const scripts = this.subscriber.sharded ? SHARDED_RELEASE_SCRIPTS : CLASSIC_RELEASE_SCRIPTS;
    const keySets = keys.map((key) => this.keys.keySet(key));
    const operation = { name: 'release', keys };
    const exclusive = { token, retention: FENCE_RETENTION, keep, starvation: this.starvation, yield_turn: options.yield ? 1 : 0 };
    const [script, call] = options.share
      ? [
          scripts.releaseShared,
          scripts.releaseShared.call(keySets, { token, retention: FENCE_RETENTION, keep, tag: shareTag(options.share) }),
        ]
      : keys.length === 1
        ? [scripts.release, scripts.release.call(keySets[0], exclusive)]
        : [scripts.releaseMany, scripts.releaseMany.call(keySets, exclusive)];
    const drops = this.commands.connectionDrops;
    const reply = await this.commands.script(script, call, operation, sending);
    // A release sent again after its connection dropped finds what its first delivery left: nothing of this token.
    // Only a lease still running when it was sent was the holder's until then; one that had run out may be anyone's.
    return replyNumber(reply) === keys.length || (options.leaseRunning === true && this.commands.connectionDrops !== drops);
  }

  async leave(keys: readonly string[], token: string, ttl: number, share?: LockShare): Promise<void> {
    if (this.cluster && keys.length > 1) {
      await this.everyKey(keys, (key) => this.leave([key], token, ttl, share).then(() => true));
      return;
    }
    const leave = this.subscriber.sharded ? SHARDED_LEAVE_SCRIPT : CLASSIC_LEAVE_SCRIPT;
    const args = { token, ttl, retention: FENCE_RETENTION, starvation: this.starvation, tag: shareTag(share) };
    await this.commands.script(
      leave,
      leave.call(
        keys.map((key) => this.keys.keySet(key)),
        args,
      ),
      { name: 'leave the queue of', keys },
    );
  }

  /**
   * Raises each key's fencing counter to at least `fencingToken` (never lowers it). The quorum store uses it so
   * that a majority of nodes knows the highest token handed out.
   * @param keys the keys
   * @param fencingToken the token to remember
   */
  async raiseFence(keys: readonly string[], fencingToken: number): Promise<void> {
    await this.commands.script(
      RAISE_FENCE,
      RAISE_FENCE.call(
        keys.map((key) => this.keys.keySet(key)),
        { fencing: fencingToken, retention: FENCE_RETENTION },
      ),
      { name: 'record the fencing token of', keys },
    );
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    const counts = await this.commands.run({ name: 'check', keys }, () =>
      Promise.all(keys.map((key) => this.client.exists(this.keys.lock(key)))),
    );
    return counts.some((count) => replyNumber(count) > 0);
  }

  async holder(key: string): Promise<string | undefined> {
    const value: unknown = await this.commands.run({ name: 'read the holder of', keys: [key] }, () => this.client.get(this.keys.lock(key)));
    // A shared hold keeps `*<share>` in the lock key: no exclusive holder.
    return typeof value === 'string' && !value.startsWith('*') ? value : undefined;
  }

  async ping(): Promise<void> {
    await this.commands.run({ name: 'ping', keys: [] }, () => this.client.ping());
  }

  watch(keys: readonly string[], token: string, onlyIfLive = false): LockReleaseWatch | undefined {
    const keyPrefix = this.keyPrefix();
    const watch = this.subscriber.watch(
      keys.map((key) => keyPrefix + this.keys.lock(key)),
      token,
      onlyIfLive,
    );
    // The releaser's WAIT covers its own connection only: a waiter confirms a hand-off with an attempt of its own.
    return watch && this.replicas ? confirmingHandOffs(watch) : watch;
  }

  async close(): Promise<void> {
    this.scripts.close();
    this.commands.close();
    await this.subscriber.close();
    if (this.ownsClient) {
      await closeClient(this.client);
    }
  }

  /**
   * Several keys on a Cluster, where they may live in different slots, or one permit of each of several keys: taken
   * one by one in a fixed order (so two callers cannot deadlock), given back if one is busy; then every key's
   * counter learns the highest fencing token.
   */
  private async acquireKeyByKey(
    keys: readonly string[],
    token: string,
    ttl: number,
    share: LockShare | undefined,
  ): Promise<LockStoreAcquireResult> {
    const taken: string[] = [];
    let fencingToken = 0;
    // Whatever fails after a key was taken (an unanswered key, the write-back), every key goes back; not awaited, as a
    // store that did not answer would keep the caller another command timeout: the give-back is token-checked, and
    // sent whole on each key's connection, ahead of any later attempt.
    const giveBack = (error: unknown): never => {
      void this.giveBack(keys, token, share);
      throw error;
    };
    for (const key of [...keys].sort()) {
      const result = await this.acquire([key], token, ttl, 0, share).catch(giveBack);
      if (!result.acquired) {
        if (taken.length > 0) {
          await this.giveBack(taken, token, share);
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

  private keyPrefix(): string {
    return this.client.options.keyPrefix ?? '';
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
      const replies = await this.client.pipeline().exists(this.keys.lock(keys[0])).wait(count, timeoutMs).exec();
      const [error, reply] = replies?.[1] ?? [new Error('the pipeline was discarded'), 0];
      if (error) {
        throw error;
      }
      return reply;
    };
    const waiting: RedisOperation = { name: `wait for replicas of the ${operation} of`, keys };
    const confirmed = replyNumber(await this.commands.run(waiting, waitForReplicas, { blocksFor: timeoutMs }));
    if (confirmed < count) {
      throw new LockNotReplicatedError(keys, confirmed, count, operation);
    }
  }
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

async function closeClient(client: RedisConnectionPort): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
  } else {
    client.disconnect();
  }
}

import type { LoggerService, ModuleMetadata, Type, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { LockStore } from './lock-store.interface.js';
import type { LockErrorMessage } from '../errors/lock-not-acquired.error.js';
import type { NodeRedisClient } from '../stores/redis/node-redis.client.js';
import type { GlideRedisClient } from '../stores/redis/glide.client.js';

/**
 * One Redis: a URL, ioredis options, an ioredis client (`Redis` or `Cluster`), a node-redis v4/v5 client
 * (`createClient()` or `createCluster()`), a Valkey GLIDE 2 client (`GlideClient` or `GlideClusterClient`), or the
 * nodes of a Redis Cluster to connect to.
 */
export type RedisConnection = string | RedisOptions | Redis | Cluster | NodeRedisClient | GlideRedisClient | RedisClusterConnection;

/** A Redis Cluster the module connects to: its startup nodes and, optionally, ioredis `ClusterOptions`. */
export interface RedisClusterConnection {
  /** Startup nodes, e.g. `[{ host: '10.0.0.1', port: 7000 }]` or `['redis://10.0.0.1:7000']`. */
  cluster: ClusterNode[];
  /** ioredis Cluster options. */
  clusterOptions?: ClusterOptions;
}

/** Options of `LockModule.forRoot()`; all are optional. */
export interface LockModuleOptions {
  /**
   * Where Redis is: a URL, ioredis `RedisOptions`, an existing ioredis `Redis` / `Cluster`, node-redis client
   * (`createClient()` / `createCluster()`, v4 or v5) or Valkey GLIDE 2 client. An array
   * of 3 or more (URLs, options or clients) of independent masters selects the Redlock quorum mode.
   * A client the module creates is closed on app shutdown; a client you pass in is never closed by it.
   * @default 'redis://127.0.0.1:6379'
   */
  redis?: RedisConnection | readonly RedisConnection[];
  /**
   * The backend: `'redis'`, `'memory'` (in one process; for tests, `LockTestingModule` from `nest-lock/testing` adds
   * faults) or a custom {@link LockStore}.
   * @default 'redis'
   */
  store?: 'redis' | 'memory' | LockStore;
  /**
   * Namespace of every Redis key and channel the library writes.
   * @default 'lock:'
   */
  prefix?: string;
  /**
   * Lease of a lock in ms.
   * @default 30000
   */
  ttl?: number;
  /**
   * How long `acquire` waits for a busy lock, in ms.
   * @default 10000
   */
  waitTimeout?: number;
  /**
   * Extend held locks automatically (watchdog at about ttl/3) until they are released.
   * @default true
   */
  autoExtend?: boolean;
  /**
   * Longest time one Redis command may take before it counts as unanswered, in ms.
   * @default 2000
   */
  commandTimeout?: number;
  /**
   * How long `app.close()` waits for the work still running under this app's locks (`using()`, `stream()`,
   * `@Locked`, `@UseLock`), in ms. When the app starts closing, the `signal` of every lock it holds aborts (with a
   * `LockError`: the app is shutting down); the locks stay held, their watchdog extending them, until their work
   * ends or this time has passed, and only then are they released (the ones released under running work are
   * logged). `0` releases them at once.
   * @default 10000
   */
  shutdownTimeout?: number;
  /**
   * `false` silences the library; a `LoggerService` replaces Nest's `Logger`.
   * @default Nest's Logger
   */
  logger?: false | LoggerService;
  /**
   * Redis store only: after each acquire and release, `WAIT` for `count` replicas to confirm the write within
   * `timeoutMs`, failing with `LockNotReplicatedError` otherwise (an acquisition is rolled back first). Narrows,
   * but does not close, the window in which a failover loses a lock.
   * @default undefined (no waiting for replicas)
   */
  replicas?: { count: number; timeoutMs: number };
  /**
   * Lock cohorting: when this app's callers wait for a key that this app holds, a release passes the lock straight
   * to the next of them, under the same lease and without a round trip to Redis, up to `passes` times or for
   * `duration` ms since Redis granted it; then the key goes back to Redis, handed to the other instances' waiters
   * first. Each pass gets its own, higher fencing token. `false` sends every release to Redis.
   * @default { passes: 16, duration: 25, linger: 2 }
   */
  cohort?: LockCohortOptions | false;
  /**
   * Bounded barging, in ms: a release wakes the longest waiter of the key instead of handing it the lock, and a
   * caller that is already running may take the free lock first, until the longest waiter has waited this long;
   * from then on, releases hand the lock straight to it. `0` hands every release to the longest waiter (strict
   * FIFO).
   * @default 0
   */
  starvation?: number;
  /**
   * Check at app start that the store answers (a `PING` within `commandTimeout`; a majority of the nodes in
   * quorum mode), and fail the start with a `LockStoreUnavailableError` saying where it looked if it does not.
   * Off by default: a Redis that is down at start then only fails the lock operations, and the app still serves
   * everything else.
   * @default false
   */
  verifyConnection?: boolean;
  /**
   * The name this app's lock tokens carry, with the host name and the process id, so that `npx nest-lock inspect`
   * shows who holds a lock (`orders@web-1:4242`). Letters, digits, `.`, `_` and `-`; other characters become `_`.
   * @default the `name` in the app's `package.json` (the nearest one above the entry file that has a name), else
   * the host name
   */
  appName?: string;
  /**
   * What a client is told when a lock stays busy (the `message` of the 409, and of the WebSocket / RPC error): a text,
   * or a function of the `LockNotAcquiredError` returning one. A `@Locked` / `@UseLock` `errorMessage` wins over it.
   * The error your code sees keeps its `keys` and the developer's `message` either way.
   * @default 'The resource is busy; try again later.'
   */
  errorMessage?: LockErrorMessage;
  /**
   * Register the module globally, so that `LockService` can be injected everywhere.
   * @default true
   */
  isGlobal?: boolean;
}

/** The bounds of a cohort: passes of a lock between callers of one app before it goes back to Redis. */
export interface LockCohortOptions {
  /**
   * Most passes per grant from Redis (at most 63: a grant reserves 64 fencing tokens).
   * @default 16
   */
  passes?: number;
  /**
   * Most ms from the grant from Redis during which the lock is passed on.
   * @default 25
   */
  duration?: number;
  /**
   * For a contended key (granted after a wait), how long a released lease is kept for the app's next caller when
   * none is waiting yet, in ms; `0` releases it to Redis at once. Within the bounds above. An uncontended key is
   * always released at once.
   * @default 2
   */
  linger?: number;
}

/** A class that creates the module options, for `forRootAsync({ useClass })`. */
export interface LockOptionsFactory {
  /** Returns the module options. */
  createLockOptions(): Promise<LockModuleOptions> | LockModuleOptions;
}

/** Options of `LockModule.forRootAsync()`. */
export interface LockModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** A factory returning the options; its arguments are the `inject` providers. */
  useFactory?: (...args: never[]) => Promise<LockModuleOptions> | LockModuleOptions;
  /** Providers injected into `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** A class the module instantiates to create the options. */
  useClass?: Type<LockOptionsFactory>;
  /** An existing provider (from `imports`) that creates the options. */
  useExisting?: Type<LockOptionsFactory>;
  /**
   * Register the module globally.
   * @default true
   */
  isGlobal?: boolean;
}

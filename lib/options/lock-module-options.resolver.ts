import {
  DEFAULT_COHORT,
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_PREFIX,
  DEFAULT_REDIS_URL,
  DEFAULT_SHUTDOWN_TIMEOUT,
  DEFAULT_STARVATION,
  DEFAULT_TTL,
  DEFAULT_WAIT_TIMEOUT,
  FENCE_BLOCK,
} from '../lock.constants.js';
import { hostname } from 'node:os';
import { InvalidLockOptionsError } from '../errors/index.js';
import { isRedisClientInput } from '../stores/redis/redis-client.js';
import type { LockCohortOptions, LockModuleOptions, LockStore } from '../interfaces/index.js';
import type { LockErrorMessage } from '../errors/index.js';
import { describe } from '../utils/describe.util.js';
import { defaultAppName } from '../utils/app-name.util.js';
import { assertLockOptions, isWholeNumber, type ResolvedLockOptions } from './lock-options.validator.js';

/** Module options after defaults were applied and checked. */
export interface ResolvedLockModuleOptions extends Omit<ResolvedLockOptions, 'signal' | 'minHold'> {
  redis: NonNullable<LockModuleOptions['redis']>;
  store: NonNullable<LockModuleOptions['store']>;
  prefix: string;
  commandTimeout: number;
  shutdownTimeout: number;
  logger: LockModuleOptions['logger'];
  replicas: LockModuleOptions['replicas'];
  /** The bounds of passes inside this app, or false. */
  cohort: Required<LockCohortOptions> | false;
  starvation: number;
  verifyConnection: boolean;
  /** What every lock token of this app starts with: `app@host:pid/`. */
  holder: string;
  /** The module made the store (not passed in), so it closes it on shutdown. */
  ownsStore: boolean;
  /** What a client is told when a lock stays busy, if not the default. */
  errorMessage?: LockErrorMessage;
}

const MODULE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'redis',
  'store',
  'prefix',
  'ttl',
  'waitTimeout',
  'autoExtend',
  'commandTimeout',
  'shutdownTimeout',
  'logger',
  'replicas',
  'cohort',
  'starvation',
  'verifyConnection',
  'appName',
  'errorMessage',
  'isGlobal',
]);

const STORE_METHODS = ['acquire', 'extend', 'release', 'isLocked'] as const;

/**
 * Checks the module options and applies the defaults.
 * @param options what the user gave `forRoot()` or the async factory returned
 */
export function resolveLockModuleOptions(options: LockModuleOptions | undefined): ResolvedLockModuleOptions {
  assertLockOptions(options, MODULE_OPTION_NAMES, 'LockModule options');
  const given = options ?? {};
  const store = given.store ?? 'redis';
  if (typeof store === 'string' ? store !== 'redis' && store !== 'memory' : !isLockStore(store)) {
    throw new InvalidLockOptionsError(
      `LockModule options: store must be 'redis', 'memory' or an object implementing LockStore ` +
        `(${STORE_METHODS.join(', ')}), got ${describe(store)}.`,
    );
  }
  if (given.prefix !== undefined && (typeof given.prefix !== 'string' || given.prefix === '' || /[{}]/.test(given.prefix))) {
    throw new InvalidLockOptionsError(
      `LockModule options: prefix must be a non-empty string without { or } (braces would take over the hash tag ` +
        `that keeps each lock's keys in one Cluster slot), got ${describe(given.prefix)}.`,
    );
  }
  if (given.commandTimeout !== undefined && !(isWholeNumber(given.commandTimeout) && given.commandTimeout > 0)) {
    throw new InvalidLockOptionsError(
      `LockModule options: commandTimeout must be a positive whole number of ms, got ${describe(given.commandTimeout)}.`,
    );
  }
  if (given.shutdownTimeout !== undefined && !(isWholeNumber(given.shutdownTimeout) && given.shutdownTimeout >= 0)) {
    throw new InvalidLockOptionsError(
      `LockModule options: shutdownTimeout must be a whole number of ms from 0 to ${Number.MAX_SAFE_INTEGER} ` +
        `(how long app.close() waits for the work under its locks), got ${describe(given.shutdownTimeout)}.`,
    );
  }
  const connections: unknown[] = Array.isArray(given.redis) ? given.redis : [given.redis];
  if (Array.isArray(given.redis) && given.redis.length < 3) {
    throw new InvalidLockOptionsError(
      `LockModule options: a quorum needs at least 3 independent Redis masters, got ${given.redis.length}; use one URL for a single Redis.`,
    );
  }
  for (const connection of connections) {
    if (
      connection !== undefined &&
      typeof connection !== 'string' &&
      (typeof connection !== 'object' || connection === null || Array.isArray(connection))
    ) {
      throw new InvalidLockOptionsError(
        `LockModule options: redis must be a URL, ioredis options, an ioredis, node-redis or GLIDE client (or an array of them), got ${describe(connection)}.`,
      );
    }
  }
  const replicas = given.replicas as Record<string, unknown> | undefined;
  if (
    replicas !== undefined &&
    !(isWholeNumber(replicas?.count) && replicas.count > 0 && isWholeNumber(replicas.timeoutMs) && replicas.timeoutMs > 0)
  ) {
    throw new InvalidLockOptionsError(
      `LockModule options: replicas must be { count, timeoutMs } with positive whole numbers, got ${describe(given.replicas)}.`,
    );
  }
  if (given.logger !== undefined && given.logger !== false && typeof given.logger?.warn !== 'function') {
    throw new InvalidLockOptionsError(`LockModule options: logger must be false or a LoggerService, got ${describe(given.logger)}.`);
  }
  if (given.starvation !== undefined && !(isWholeNumber(given.starvation) && given.starvation >= 0)) {
    throw new InvalidLockOptionsError(
      `LockModule options: starvation must be a whole number of ms, 0 or more (0: strict FIFO), got ${describe(given.starvation)}.`,
    );
  }
  if (given.verifyConnection !== undefined && typeof given.verifyConnection !== 'boolean') {
    throw new InvalidLockOptionsError(
      `LockModule options: verifyConnection must be true or false, got ${describe(given.verifyConnection)}.`,
    );
  }
  if (given.appName !== undefined && (typeof given.appName !== 'string' || given.appName === '')) {
    throw new InvalidLockOptionsError(`LockModule options: appName must be a non-empty string, got ${describe(given.appName)}.`);
  }
  return {
    verifyConnection: given.verifyConnection ?? false,
    holder: holderPrefix(given.appName),
    cohort: resolveCohort(given.cohort),
    starvation: given.starvation ?? DEFAULT_STARVATION,
    redis: given.redis ?? DEFAULT_REDIS_URL,
    store,
    prefix: given.prefix ?? DEFAULT_PREFIX,
    ttl: given.ttl ?? DEFAULT_TTL,
    waitTimeout: given.waitTimeout ?? DEFAULT_WAIT_TIMEOUT,
    autoExtend: given.autoExtend ?? true,
    commandTimeout: given.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT,
    shutdownTimeout: given.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT,
    logger: given.logger,
    replicas: given.replicas,
    ownsStore: typeof store === 'string',
    errorMessage: given.errorMessage,
  };
}

/** Token prefix naming this process: `app@host:pid/`; only characters that fit in keys, queue members and messages. */
function holderPrefix(appName: string | undefined): string {
  // A scoped package name (@acme/orders) reads best without its @.
  const name = appName ?? defaultAppName(process.argv[1]).replace(/^@/, '');
  const safe = (text: string): string => text.replace(/[^\w.-]/g, '_').slice(0, 64);
  return `${safe(name)}@${safe(hostname())}:${process.pid}/`;
}

function isLockStore(value: unknown): value is LockStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    STORE_METHODS.every((method) => typeof (value as Record<string, unknown>)[method] === 'function')
  );
}

function resolveCohort(cohort: LockModuleOptions['cohort']): ResolvedLockModuleOptions['cohort'] {
  if (cohort === false) {
    return false;
  }
  const given = cohort as Record<string, unknown> | undefined;
  const passes = given?.passes ?? DEFAULT_COHORT.passes;
  const duration = given?.duration ?? DEFAULT_COHORT.duration;
  const linger = given?.linger ?? DEFAULT_COHORT.linger;
  const names = ['passes', 'duration', 'linger'];
  const known = given === undefined || (typeof given === 'object' && Object.keys(given).every((name) => names.includes(name)));
  const ms = (value: unknown): value is number => isWholeNumber(value) && value >= 0;
  if (!known || !isWholeNumber(passes) || passes < 0 || passes >= FENCE_BLOCK || !ms(duration) || !ms(linger)) {
    throw new InvalidLockOptionsError(
      `LockModule options: cohort must be false or { passes, duration, linger } with passes a whole number from 0 to ` +
        `${FENCE_BLOCK - 1} and duration and linger whole numbers of ms, got ${describe(cohort)}.`,
    );
  }
  return { passes, duration, linger };
}

/**
 * Where the store is, for messages, without credentials: `redis://127.0.0.1:6379`, `3 quorum nodes`.
 * @param options the resolved module options
 */
export function describeConnection(options: Pick<ResolvedLockModuleOptions, 'store' | 'redis'>): string {
  if (options.store !== 'redis') {
    return typeof options.store === 'string' ? options.store : 'a custom LockStore';
  }
  const redis: unknown = options.redis;
  if (Array.isArray(redis)) {
    return `${redis.length} quorum nodes`;
  }
  if (typeof redis === 'string') {
    return redis.replace(/\/\/[^@/]*@/, '//***@');
  }
  const given = redis as { host?: string; port?: number; cluster?: unknown; sentinels?: unknown; name?: string };
  if (isRedisClientInput(redis)) {
    return 'the Redis client passed in';
  }
  if (Array.isArray(given.cluster)) {
    return 'a Redis Cluster';
  }
  if (Array.isArray(given.sentinels)) {
    return `the master "${given.name ?? 'mymaster'}" of ${given.sentinels.length} Sentinels`;
  }
  return `${given.host ?? '127.0.0.1'}:${given.port ?? 6379}`;
}

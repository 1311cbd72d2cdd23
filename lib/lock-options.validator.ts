import {
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_PREFIX,
  DEFAULT_REDIS_URL,
  DEFAULT_TTL,
  DEFAULT_WAIT_TIMEOUT,
  MAX_KEY_BYTES,
  MIN_TTL,
} from './lock.constants.js';
import { InvalidLockOptionsError } from './errors/index.js';
import type { LockModuleOptions, LockOptions, LockStore } from './interfaces/index.js';

/** Per-call options after defaults were applied and checked. */
export interface ResolvedLockOptions {
  ttl: number;
  waitTimeout: number;
  autoExtend: boolean;
  minHold: number;
  signal?: AbortSignal;
}

const LOCK_OPTION_NAMES: ReadonlySet<string> = new Set(['ttl', 'waitTimeout', 'autoExtend', 'minHold', 'signal']);

/**
 * Checks one key and returns it. A key is a non-empty, non-blank string of at most 1024 UTF-8 bytes.
 * @param key the candidate
 * @param where names the key in the error, e.g. `key` or `Orders.confirm key {0}`
 */
export function assertLockKey(key: unknown, where = 'key'): string {
  if (typeof key !== 'string') {
    throw new InvalidLockOptionsError(`${where} must be a string, got ${describe(key)}.`);
  }
  if (key.trim() === '') {
    throw new InvalidLockOptionsError(`${where} must not be empty or blank, got ${JSON.stringify(key)}.`);
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidLockOptionsError(
      `${where} is ${bytes} bytes long; keys are limited to ${MAX_KEY_BYTES} bytes. Hash long inputs into the key.`,
    );
  }
  return key;
}

/**
 * Turns a key or key array into a checked, de-duplicated array.
 * @param key a key or a non-empty array of keys
 */
export function normalizeLockKeys(key: unknown): string[] {
  if (!Array.isArray(key)) {
    return [assertLockKey(key)];
  }
  if (key.length === 0) {
    throw new InvalidLockOptionsError('key array must hold at least one key.');
  }
  return [...new Set(key.map((one: unknown, index) => assertLockKey(one, `key[${index}]`)))];
}

/**
 * Checks `ttl`, `waitTimeout` and `autoExtend` of an options object (module or call), and rejects unknown names.
 * @param options the options to check
 * @param allowed every option name accepted in this place
 * @param where names the options in the error, e.g. `LockModule options`
 */
export function assertLockOptions(options: unknown, allowed: ReadonlySet<string>, where: string): void {
  if (options === undefined) {
    return;
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidLockOptionsError(`${where} must be an object, got ${describe(options)}.`);
  }
  const record = options as Record<string, unknown>;
  const unknown = Object.keys(record).filter((name) => !allowed.has(name));
  if (unknown.length > 0) {
    throw new InvalidLockOptionsError(
      `${where} has unknown option(s) ${unknown.map((n) => `"${n}"`).join(', ')}; allowed: ${[...allowed].join(', ')}.`,
    );
  }
  if (record.ttl !== undefined && !(isInteger(record.ttl) && record.ttl >= MIN_TTL)) {
    throw new InvalidLockOptionsError(
      `${where}: ttl must be a whole number of ms from ${MIN_TTL} to ${Number.MAX_SAFE_INTEGER}, got ${describe(record.ttl)}.`,
    );
  }
  if (record.waitTimeout !== undefined && !(isWait(record.waitTimeout))) {
    throw new InvalidLockOptionsError(
      `${where}: waitTimeout must be a whole number of ms from 0 to ${Number.MAX_SAFE_INTEGER}, or Infinity to wait ` +
        `without end, got ${describe(record.waitTimeout)}.`,
    );
  }
  if (record.minHold !== undefined && !(isInteger(record.minHold) && record.minHold >= 0)) {
    throw new InvalidLockOptionsError(
      `${where}: minHold must be a whole number of ms from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(record.minHold)}.`,
    );
  }
  if (record.autoExtend !== undefined && typeof record.autoExtend !== 'boolean') {
    throw new InvalidLockOptionsError(`${where}: autoExtend must be a boolean, got ${describe(record.autoExtend)}.`);
  }
  if (record.signal !== undefined && !(record.signal instanceof AbortSignal)) {
    throw new InvalidLockOptionsError(`${where}: signal must be an AbortSignal, got ${describe(record.signal)}.`);
  }
}

/**
 * Checks per-call options and fills what they leave out from the defaults.
 * @param options the caller's options
 * @param defaults the module's values
 */
export function resolveLockOptions(options: LockOptions | undefined, defaults: ResolvedLockOptions): ResolvedLockOptions {
  assertLockOptions(options, LOCK_OPTION_NAMES, 'lock options');
  return {
    ttl: options?.ttl ?? defaults.ttl,
    waitTimeout: options?.waitTimeout ?? defaults.waitTimeout,
    autoExtend: options?.autoExtend ?? defaults.autoExtend,
    minHold: options?.minHold ?? defaults.minHold,
    signal: options?.signal,
  };
}

/**
 * Describes a value for an error message without dumping it.
 * @param value anything
 */
export function describe(value: unknown): string {
  if (value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  return typeof value === 'object' ? `an object (${value.constructor?.name ?? 'Object'})` : `a ${typeof value}`;
}

/** A wait: any safe whole number of ms, or `Infinity` (no end). */
function isWait(value: unknown): value is number {
  return value === Number.POSITIVE_INFINITY || (isInteger(value) && value >= 0);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** Module options after defaults were applied and checked. */
export interface ResolvedLockModuleOptions extends Omit<ResolvedLockOptions, 'signal' | 'minHold'> {
  redis: NonNullable<LockModuleOptions['redis']>;
  store: NonNullable<LockModuleOptions['store']>;
  prefix: string;
  commandTimeout: number;
  logger: LockModuleOptions['logger'];
  replicas: LockModuleOptions['replicas'];
  /** The module made the store (not passed in), so it closes it on shutdown. */
  ownsStore: boolean;
}

const MODULE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'redis',
  'store',
  'prefix',
  'ttl',
  'waitTimeout',
  'autoExtend',
  'commandTimeout',
  'logger',
  'replicas',
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
  if (given.commandTimeout !== undefined && !(isInteger(given.commandTimeout) && given.commandTimeout > 0)) {
    throw new InvalidLockOptionsError(
      `LockModule options: commandTimeout must be a positive whole number of ms, got ${describe(given.commandTimeout)}.`,
    );
  }
  const connections: unknown[] = Array.isArray(given.redis) ? given.redis : [given.redis];
  if (Array.isArray(given.redis) && given.redis.length < 3) {
    throw new InvalidLockOptionsError(
      `LockModule options: a quorum needs at least 3 independent Redis masters, got ${given.redis.length}; use one URL for a single Redis.`,
    );
  }
  for (const connection of connections) {
    if (connection !== undefined && typeof connection !== 'string' && (typeof connection !== 'object' || connection === null || Array.isArray(connection))) {
      throw new InvalidLockOptionsError(
        `LockModule options: redis must be a URL, ioredis options or an ioredis client (or an array of them), got ${describe(connection)}.`,
      );
    }
  }
  const replicas = given.replicas as Record<string, unknown> | undefined;
  if (replicas !== undefined && !(isInteger(replicas?.count) && replicas.count > 0 && isInteger(replicas.timeoutMs) && replicas.timeoutMs > 0)) {
    throw new InvalidLockOptionsError(
      `LockModule options: replicas must be { count, timeoutMs } with positive whole numbers, got ${describe(given.replicas)}.`,
    );
  }
  if (given.logger !== undefined && given.logger !== false && typeof given.logger?.warn !== 'function') {
    throw new InvalidLockOptionsError(`LockModule options: logger must be false or a LoggerService, got ${describe(given.logger)}.`);
  }
  return {
    redis: given.redis ?? DEFAULT_REDIS_URL,
    store,
    prefix: given.prefix ?? DEFAULT_PREFIX,
    ttl: given.ttl ?? DEFAULT_TTL,
    waitTimeout: given.waitTimeout ?? DEFAULT_WAIT_TIMEOUT,
    autoExtend: given.autoExtend ?? true,
    commandTimeout: given.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT,
    logger: given.logger,
    replicas: given.replicas,
    ownsStore: typeof store === 'string',
  };
}

function isLockStore(value: unknown): value is LockStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    STORE_METHODS.every((method) => typeof (value as Record<string, unknown>)[method] === 'function')
  );
}

import { MIN_TTL } from '../lock.constants.js';
import { InvalidLockOptionsError } from '../errors/index.js';
import type { LockOptions, LockShare } from '../interfaces/index.js';
import { describe } from '../utils/describe.util.js';

/** Per-call options after defaults were applied and checked. */
export interface ResolvedLockOptions {
  ttl: number;
  waitTimeout: number;
  autoExtend: boolean;
  minHold: number;
  signal?: AbortSignal;
  /** A read lock or a semaphore permit; undefined for an exclusive lock. */
  share?: LockShare;
}

/** The options `acquire()` and `tryAcquire()` take. */
export const LOCK_OPTION_NAMES: ReadonlySet<string> = new Set(['ttl', 'waitTimeout', 'autoExtend', 'minHold', 'signal', 'limit', 'mode']);

/** The options `using()` and `stream()` take. */
export const USING_OPTION_NAMES: ReadonlySet<string> = new Set([...LOCK_OPTION_NAMES, 'onBusy']);

/** The options `@Locked` and `@UseLock` take: those of `using()` but `signal`, and what a client is told when busy. */
export const DECORATOR_OPTION_NAMES: ReadonlySet<string> = new Set(
  [...USING_OPTION_NAMES, 'errorMessage'].filter((name) => name !== 'signal'),
);

/**
 * Checks the options of an options object (module, call or decorator), and rejects unknown names.
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
  if (record.ttl !== undefined && !(isWholeNumber(record.ttl) && record.ttl >= MIN_TTL)) {
    throw new InvalidLockOptionsError(
      `${where}: ttl must be a whole number of ms from ${MIN_TTL} to ${Number.MAX_SAFE_INTEGER}, got ${describe(record.ttl)}.`,
    );
  }
  if (record.waitTimeout !== undefined && !isWait(record.waitTimeout)) {
    throw new InvalidLockOptionsError(
      `${where}: waitTimeout must be a whole number of ms from 0 to ${Number.MAX_SAFE_INTEGER}, or Infinity to wait ` +
        `without end, got ${describe(record.waitTimeout)}.`,
    );
  }
  if (record.minHold !== undefined && !(isWholeNumber(record.minHold) && record.minHold >= 0)) {
    throw new InvalidLockOptionsError(
      `${where}: minHold must be a whole number of ms from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(record.minHold)}.`,
    );
  }
  if (record.autoExtend !== undefined && typeof record.autoExtend !== 'boolean') {
    throw new InvalidLockOptionsError(`${where}: autoExtend must be a boolean, got ${describe(record.autoExtend)}.`);
  }
  if (record.onBusy !== undefined && record.onBusy !== 'throw' && record.onBusy !== 'skip') {
    throw new InvalidLockOptionsError(`${where}: onBusy must be 'throw' or 'skip', got ${describe(record.onBusy)}.`);
  }
  if (record.errorMessage !== undefined && !isErrorMessage(record.errorMessage)) {
    throw new InvalidLockOptionsError(
      `${where}: errorMessage must be a non-empty string or a function of the error returning one, got ${describe(record.errorMessage)}.`,
    );
  }
  if (record.signal !== undefined && !(record.signal instanceof AbortSignal)) {
    throw new InvalidLockOptionsError(`${where}: signal must be an AbortSignal, got ${describe(record.signal)}.`);
  }
  assertShareOptions(record, where);
}

function assertShareOptions(record: Record<string, unknown>, where: string): void {
  if (record.limit !== undefined && !(isWholeNumber(record.limit) && record.limit >= 1)) {
    throw new InvalidLockOptionsError(
      `${where}: limit must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER} (how many may hold the key at once), got ${describe(record.limit)}.`,
    );
  }
  if (record.mode !== undefined && record.mode !== 'read' && record.mode !== 'write') {
    throw new InvalidLockOptionsError(`${where}: mode must be 'read' or 'write', got ${describe(record.mode)}.`);
  }
  if (record.mode === 'read' && record.limit !== undefined) {
    throw new InvalidLockOptionsError(
      `${where}: limit cannot be combined with mode 'read' (read locks admit any number of readers); drop one of them.`,
    );
  }
}

/**
 * The share that `limit` and `mode` ask for: a read lock, a semaphore permit, or undefined for an exclusive lock.
 * @param options checked options
 */
export function resolveShare(options: Pick<LockOptions, 'limit' | 'mode'> | undefined): LockShare | undefined {
  if (options?.mode === 'read') {
    return { mode: 'read' };
  }
  return options?.limit !== undefined && options.limit > 1 ? { mode: 'permit', limit: options.limit } : undefined;
}

/**
 * Checks per-call options and fills what they leave out from the defaults.
 * @param options the caller's options
 * @param defaults the module's values
 * @param allowed the option names accepted @default those of `acquire()`
 */
export function resolveLockOptions(
  options: LockOptions | undefined,
  defaults: ResolvedLockOptions,
  allowed: ReadonlySet<string> = LOCK_OPTION_NAMES,
): ResolvedLockOptions {
  assertLockOptions(options, allowed, 'lock options');
  return {
    ttl: options?.ttl ?? defaults.ttl,
    waitTimeout: options?.waitTimeout ?? defaults.waitTimeout,
    autoExtend: options?.autoExtend ?? defaults.autoExtend,
    minHold: options?.minHold ?? defaults.minHold,
    signal: options?.signal,
    share: resolveShare(options),
  };
}

/** A busy answer: a text a client can read, or a function that makes one. */
function isErrorMessage(value: unknown): boolean {
  return typeof value === 'function' || (typeof value === 'string' && value.trim() !== '');
}

/** A wait: any safe whole number of ms, or `Infinity` (no end). */
function isWait(value: unknown): value is number {
  return value === Number.POSITIVE_INFINITY || (isWholeNumber(value) && value >= 0);
}

/**
 * Whether a value is a whole number JavaScript represents exactly (a safe integer).
 * @param value anything
 */
export function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

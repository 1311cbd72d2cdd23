import { DEFAULT_LEADER_RETRY, DEFAULT_LEADER_TTL, LEADER_KEY_PREFIX, MIN_TTL } from '../lock.constants.js';
import { InvalidLockOptionsError } from '../errors/index.js';
import { assertLockKey } from '../options/lock-key.validator.js';
import { assertLockOptions, isWholeNumber } from '../options/lock-options.validator.js';
import { describe } from '../utils/describe.util.js';
import { MAX_TIMER_DELAY } from '../utils/timer.util.js';
import type { LeaderOptions } from './leadership.interface.js';

/** Options of one election after defaults were applied and checked. */
export interface ResolvedLeaderOptions {
  readonly ttl: number;
  readonly retry: number;
  readonly signal?: AbortSignal;
}

/** The options `elect()` takes. */
export const LEADER_OPTION_NAMES: ReadonlySet<string> = new Set(['ttl', 'retry', 'signal']);

/**
 * Checks the options of an election and fills what they leave out with the defaults (ttl 15 s, retry 2 s).
 * @param options the caller's options
 * @param where names them in errors, e.g. `elect("jobs")`
 * @param allowed the option names accepted there @default those of `elect()`
 * @throws InvalidLockOptionsError naming the option
 */
export function resolveLeaderOptions(
  options: LeaderOptions | undefined,
  where: string,
  allowed: ReadonlySet<string> = LEADER_OPTION_NAMES,
): ResolvedLeaderOptions {
  assertLockOptions(options, allowed, where);
  const retry: unknown = options?.retry;
  if (retry !== undefined && !(isWholeNumber(retry) && retry >= MIN_TTL && retry <= MAX_TIMER_DELAY)) {
    throw new InvalidLockOptionsError(
      `${where}: retry must be a whole number of ms from ${MIN_TTL} to ${MAX_TIMER_DELAY}, got ${describe(retry)}.`,
    );
  }
  return { ttl: options?.ttl ?? DEFAULT_LEADER_TTL, retry: options?.retry ?? DEFAULT_LEADER_RETRY, signal: options?.signal };
}

/**
 * The lock key of the election `name`: `leader:<name>`.
 * @param name the name, checked as a key
 * @param where names it in errors
 * @throws InvalidLockOptionsError for a name that is not a non-blank string, or too long
 */
export function leaderKey(name: unknown, where: string): string {
  return assertLockKey(`${LEADER_KEY_PREFIX}${assertLockKey(name, `${where}: name`)}`, `${where}: name`);
}

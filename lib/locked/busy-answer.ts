import { LockNotAcquiredError, type LockErrorMessage } from '../errors/index.js';
import type { LockService } from '../core/lock.service.js';

/**
 * What a `@Locked` method or a `@UseLock` handler throws for `error`: a busy lock of its own (its keys among those the
 * decorator asked for, not a lock taken inside the work) answers the client with the decorator's `errorMessage`. An
 * `errorMessage` function that gives no text fails the call with an `InvalidLockOptionsError`, logged once.
 * @param error what the lock or the work failed with
 * @param keys the keys the decorator asked for
 * @param errorMessage the decorator's option, if given
 * @param service the app's LockService, which logs a failing `errorMessage`
 */
export function withBusyAnswer(
  error: unknown,
  keys: readonly string[],
  errorMessage: LockErrorMessage | undefined,
  service: LockService,
): unknown {
  if (errorMessage === undefined || !(error instanceof LockNotAcquiredError) || !error.keys.every((key) => keys.includes(key))) {
    return error;
  }
  try {
    error.answerWith(errorMessage);
  } catch (failure) {
    service.reportAndThrow(failure);
  }
  return error;
}

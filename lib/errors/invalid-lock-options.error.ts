import { LockError } from './lock.error.js';

/** A key or an option was not acceptable. Thrown before anything reaches the store. */
export class InvalidLockOptionsError extends LockError {
  /** @param message names the offending key or option and what it must be */
  constructor(message: string) {
    super(message);
  }
}

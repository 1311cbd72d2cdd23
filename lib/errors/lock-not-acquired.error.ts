import { HttpStatus } from '@nestjs/common';
import { DEFAULT_BUSY_ANSWER } from '../lock.constants.js';
import { describe } from '../utils/describe.util.js';
import { InvalidLockOptionsError } from './invalid-lock-options.error.js';
import { LockError } from './lock.error.js';
import { formatKeys } from '../utils/lock-keys.util.js';

/**
 * What a client is told when a lock stays busy: a text, or a function of the error that returns one (it can read
 * `error.keys`; what it returns goes to the client as it is).
 */
export type LockErrorMessage = string | ((error: LockNotAcquiredError) => string);

/**
 * The lock stayed busy for the whole wait. Over HTTP it answers 409 Conflict, telling the client that the resource
 * is busy and to try again (`errorMessage` chooses the text); `keys` and `message` are for your code and logs.
 */
export class LockNotAcquiredError extends LockError {
  /**
   * @param keys the keys that were asked for, as the caller named them
   * @param waited how long the caller waited, in ms
   */
  constructor(
    readonly keys: readonly string[],
    readonly waited: number,
  ) {
    super(
      `Lock ${formatKeys(keys)} was not acquired: it stayed busy for ${Math.round(waited)} ms. ` +
        `Raise waitTimeout to wait longer, or use tryAcquire() / onBusy: 'skip' to give up at once.`,
      HttpStatus.CONFLICT,
    );
    this.answer = DEFAULT_BUSY_ANSWER;
  }

  /**
   * Sets what the client is told, from an `errorMessage` option.
   * @param errorMessage the text, or the function that makes it from this error
   * @throws InvalidLockOptionsError if the function gives anything but a non-empty string
   * @internal
   */
  answerWith(errorMessage: LockErrorMessage): void {
    const answer: unknown = typeof errorMessage === 'function' ? errorMessage(this) : errorMessage;
    if (typeof answer !== 'string' || answer.trim() === '') {
      throw new InvalidLockOptionsError(
        `The errorMessage function returned ${describe(answer)} for lock ${formatKeys(this.keys)}; it must return a ` +
          `non-empty string (the answer a client gets when the lock is busy).`,
      );
    }
    this.answer = answer;
  }
}

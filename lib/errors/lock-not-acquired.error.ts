import { HttpStatus } from '@nestjs/common';
import { LockError } from './lock.error.js';

/** The lock stayed busy for the whole wait. Over HTTP it answers 409 Conflict. */
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
      `Lock ${LockError.formatKeys(keys)} was not acquired: it stayed busy for ${Math.round(waited)} ms. ` +
        `Raise waitTimeout to wait longer, or use tryAcquire() / onBusy: 'skip' to give up at once.`,
      HttpStatus.CONFLICT,
    );
  }
}

import { HttpStatus } from '@nestjs/common';
import { LockError } from './lock.error.js';

/**
 * The lock store (Redis) could not be reached or did not answer in time, so nothing can be said about the
 * lock. Never reported as "busy". Over HTTP it answers 503 Service Unavailable.
 */
export class LockStoreUnavailableError extends LockError {
  /**
   * @param operation what was being done, e.g. `acquire "order:1"`
   * @param cause the client's error
   */
  constructor(operation: string, cause?: unknown) {
    super(
      `Could not ${operation}: the lock store (Redis) was unreachable` +
        `${cause instanceof Error ? ` (${cause.message})` : ''}. Check that Redis is up and reachable from this process.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      cause,
    );
  }
}

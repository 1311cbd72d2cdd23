import { HttpStatus } from '@nestjs/common';
import { explainStoreFailure } from '../utils/store-failure.util.js';
import { LockError } from './lock.error.js';

/**
 * The lock store (Redis) could not be reached, refused this app's credentials, or did not answer in time, so nothing
 * can be said about the lock. Never reported as "busy". Over HTTP it answers 503 Service Unavailable. The message
 * names the cause once (connection refused by host:port, a host name that did not resolve, authentication, TLS, no
 * answer in time), never a password.
 */
export class LockStoreUnavailableError extends LockError {
  /**
   * @param operation what was being done, e.g. `acquire "order:1"`
   * @param cause the client's error
   */
  constructor(operation: string, cause?: unknown) {
    const { reason, advice } = explainStoreFailure(cause);
    super(`Could not ${operation}: the lock store (Redis) ${reason}. ${advice}`, HttpStatus.SERVICE_UNAVAILABLE, cause);
  }
}

import { HttpStatus } from '@nestjs/common';
import { LockError } from './lock.error.js';
import { formatKeys } from '../utils/lock-keys.util.js';

/**
 * The `replicas` option asked for a write to reach that many replicas, and fewer confirmed it in time. An
 * acquisition is rolled back (the lock is released) before this is thrown. Over HTTP it answers 503.
 */
export class LockNotReplicatedError extends LockError {
  /**
   * @param keys the keys, as the caller named them
   * @param confirmed how many replicas confirmed the write
   * @param required how many the `replicas` option asks for
   * @param operation what was being replicated
   */
  constructor(
    readonly keys: readonly string[],
    readonly confirmed: number,
    readonly required: number,
    operation: 'acquire' | 'release',
  ) {
    super(
      `Lock ${formatKeys(keys)}: only ${confirmed} of ${required} replica(s) confirmed the ${operation} in time` +
        `${operation === 'acquire' ? ', so it was given back' : ''}. Check the replicas (INFO replication), or lower replicas.count.`,
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

import { LockError } from './lock.error.js';
import { formatKeys } from '../utils/lock-keys.util.js';

/**
 * The lock is no longer held by this holder: its lease ran out (or it was taken over) before it could be
 * extended, or the store stayed unreachable until the lease's local expiry. It is the `reason` of the
 * aborted `lock.signal`, and what `extend()` rejects with.
 */
export class LockLostError extends LockError {
  /**
   * @param keys the keys of the lost lock, as the caller named them
   * @param detail why it counts as lost
   */
  constructor(
    readonly keys: readonly string[],
    detail: string,
  ) {
    super(
      `Lock ${formatKeys(keys)} was lost: ${detail}. Stop work that relies on it; ` +
        `use a longer ttl (or keep autoExtend on) if the work outlives the lease.`,
    );
  }
}

import type { LockLostError } from '../errors/index.js';

/** What every lock event carries. */
interface LockEventBase {
  /** The keys, as the caller named them. */
  readonly keys: readonly string[];
  /** `'read'` for a read lock, else `'write'` (a mutex, a writer or a semaphore permit). */
  readonly mode: 'read' | 'write';
  /** The semaphore's limit; 1 for a mutex or a read-write lock. */
  readonly limit: number;
}

/** What events of a held lock carry. */
interface HeldLockEventBase extends LockEventBase {
  /** The acquisition's token. */
  readonly token: string;
  /** The acquisition's fencing token. */
  readonly fencingToken: number;
}

/**
 * Something that happened to a lock, on `LockService.events`: for metrics, tracing and logs of your own.
 * Times are in ms.
 */
export type LockEvent =
  | (HeldLockEventBase & { readonly type: 'acquired'; /** From the call to the grant. */ readonly waited: number })
  | (LockEventBase & { readonly type: 'busy'; /** How long the caller waited in vain. */ readonly waited: number })
  | (HeldLockEventBase & { readonly type: 'extended'; /** The new lease. */ readonly ttl: number })
  | (HeldLockEventBase & { readonly type: 'released'; /** From the grant to the release. */ readonly held: number })
  | (HeldLockEventBase & {
      readonly type: 'lost';
      /** From the grant to the loss. */
      readonly held: number;
      readonly reason: LockLostError;
    });

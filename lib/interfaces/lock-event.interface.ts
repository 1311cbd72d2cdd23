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

/** What events of a leadership term carry: the term's lock (`keys: ['leader:<name>']`) and the election. */
interface LeaderEventBase extends HeldLockEventBase {
  /** The name this instance campaigns for (`elect(name)`, `@LeaderOnly(name)`). */
  readonly name: string;
  /** The term: its fencing token. */
  readonly term: number;
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
    })
  /** This instance started leading `name`. */
  | (LeaderEventBase & { readonly type: 'elected' })
  /** This instance stopped leading `name`: it resigned (or its app shut down), or the term's lease was lost. */
  | (LeaderEventBase & {
      readonly type: 'term-ended';
      /** From the start of the term to its end. */
      readonly led: number;
      readonly reason: 'resigned' | 'lost';
    });

import { clock } from '../utils/clock.util.js';
import type { LockLostError } from '../errors/index.js';
import type { Lock } from '../core/lock.js';

/** How a term ended: given up by this instance, or its lease lost. */
export type TermEnd = 'resigned' | 'lost';

/**
 * One term of a leadership: the lock that carries it, and the signal that aborts when it ends. It is live while
 * the lock's lease runs on this process's clock; the lock's loss, or a resignation, ends it once.
 */
export class LeaderTerm {
  /** `clock.now()` when the term began. */
  readonly startedAt = clock.now();
  /** Resolves with how the term ended, once it has. */
  readonly ended: Promise<TermEnd>;
  private readonly controller = new AbortController();
  private settle: (end: TermEnd) => void = () => undefined;

  /**
   * @param lock the lock of the name, just granted
   * @param onEnd told once, synchronously, when the term ends (before anything else runs)
   */
  constructor(
    readonly lock: Lock,
    private readonly onEnd: (term: LeaderTerm, end: TermEnd) => void,
  ) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
    lock.signal.addEventListener('abort', () => this.end('lost', lock.signal.reason as LockLostError), { once: true });
  }

  /** The term's number: its lock's fencing token. */
  get number(): number {
    return this.lock.fencingToken;
  }

  /** Whether the term runs: not ended, and its lease not over on this process's clock (false after a stall at once). */
  get live(): boolean {
    return !this.controller.signal.aborted && this.lock.isHeld;
  }

  /** Aborts with a `LockLostError` when the term ends. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Ends the term, if it has not ended yet: aborts its signal with `reason` and tells the election.
   * @param end how it ended
   * @param reason the signal's reason
   */
  end(end: TermEnd, reason: LockLostError): void {
    if (this.controller.signal.aborted) {
      return;
    }
    this.controller.abort(reason);
    this.onEnd(this, end);
    this.settle(end);
  }
}

/** How far one grant from the store may be passed between callers of the process (see the module's `cohort`). */
export interface CohortBounds {
  /** Most passes per grant. */
  readonly passes: number;
  /** Most ms from the grant during which it is passed on. */
  readonly duration: number;
  /** How long a released lease of a contended key waits for the process's next caller, in ms. */
  readonly linger: number;
}

/** The lock handed from one caller of the process to the next: the store lease of a cohort, and a fencing token. */
export interface LocalPass {
  readonly cohort: Cohort;
  readonly fencingToken: number;
  /**
   * `clock.now()` at which the store lease ends, as the caller that let go of it counted it (its `Lock.leaseEnd`).
   * The receiver gets what is left of it when the lock reaches it, never what was left when it was passed.
   */
  readonly leaseEnd: number;
}

/**
 * This process's hold on one key through one store lease (one token): passed from caller to caller of the process
 * without a round trip to the store (lock cohorting), each with the next fencing token of the block the grant
 * reserved, until a bound. Every later grant from the store is above the whole block.
 */
export class Cohort {
  /** Passes made so far. */
  private passes = 0;
  private nextFence: number;
  private readonly lastFence: number;

  /**
   * @param key the key
   * @param token the store token of the lease
   * @param fencingToken the grant's fencing token (the first of its block)
   * @param reserved how many fencing tokens the block has
   * @param startedAt `clock.now()` when the store granted the lease
   * @param contended the store granted it after a wait: the released lease may linger for this process's next caller
   */
  constructor(
    readonly key: string,
    readonly token: string,
    fencingToken: number,
    reserved: number,
    readonly startedAt: number,
    readonly contended: boolean,
  ) {
    this.nextFence = fencingToken + 1;
    this.lastFence = fencingToken + reserved - 1;
  }

  /**
   * Whether the lock may be passed on once more: within the bounds, with a fencing token to spare.
   * @param bounds the module's bounds
   * @param now `clock.now()`
   */
  mayPass(bounds: CohortBounds, now: number): boolean {
    return this.passes < bounds.passes && now - this.startedAt < bounds.duration && this.nextFence <= this.lastFence;
  }

  /**
   * Counts a pass, and gives it the block's next fencing token.
   * @param leaseEnd when the store lease ends (`clock.now()` time)
   */
  pass(leaseEnd: number): LocalPass {
    this.passes += 1;
    return { cohort: this, fencingToken: this.nextFence++, leaseEnd };
  }
}

import type { Observable } from 'rxjs';

/** Options of `LockService.elect()`. */
export interface LeaderOptions {
  /**
   * Lease of a term in ms: the leader renews it every ttl/3; a leader that dies without resigning is succeeded
   * within it, and one whose event loop stalls past it loses its term. At least 10.
   * @default 15000
   */
  ttl?: number;
  /**
   * Length of one campaign round in ms: a follower waits in the name's queue this long (a resignation wakes it at
   * once), then queues again and learns who leads now (`leader`). At least 10.
   * @default 2000
   */
  retry?: number;
  /** Aborting it resigns and stops the campaign, as `resign()`. An aborted signal starts no campaign. */
  signal?: AbortSignal;
}

/**
 * This app's campaign for one name, from `LockService.elect(name)`: at most one instance leads the name at a time,
 * for terms with strictly increasing numbers; the others wait and one of them takes over when the term ends. A term
 * that is lost is followed by a new campaign, until `resign()`, the `signal` option or the app's shutdown ends it.
 */
export interface Leadership {
  /** The name campaigned for. */
  readonly name: string;
  /**
   * Whether this instance leads now. False as soon as the term's lease may have ended on this process's clock (as
   * `Lock.isHeld`), also after a stall and before any timer has run: it errs on the side of false.
   */
  readonly isLeader: boolean;
  /**
   * The current term while this instance leads (the fencing token of its lock: higher for every new term of the
   * name, whoever leads it), `undefined` otherwise. Pass it with writes to a resource that refuses lower ones.
   */
  readonly term: number | undefined;
  /**
   * Who leads now: `appName@host:pid` of the leading process, this one's while it leads; on a follower, as last
   * seen (at most one `retry` ago), `undefined` while nobody leads or before the first look.
   */
  readonly leader: string | undefined;
  /**
   * `true` when this instance starts leading, `false` when it stops; a new subscriber gets `true` at once if a term
   * is running. Completes when the campaign stops (after a last `false` if it was leading).
   */
  readonly changes: Observable<boolean>;
  /**
   * Aborts, with a `LockLostError` reason, when the current term ends (lost, resigned, or the app shuts down);
   * already aborted while this instance does not lead. Pass it to the leader's work.
   */
  readonly signal: AbortSignal;
  /**
   * Ends the term (its signal aborts, `changes` says `false`) and hands the name to the longest-waiting instance at
   * once, and stops campaigning. Resolves when the lock has been given back (or could not be: its lease then runs
   * out). Safe to call more than once; call `elect()` again to campaign anew.
   */
  resign(): Promise<void>;
}

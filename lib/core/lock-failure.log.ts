import { clock } from '../utils/clock.util.js';
import { LockError, LockNotAcquiredError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockLogger } from '../lock.logger.js';

/** How long the same failure stays quiet after it was logged, in ms: an outage logs once per window, not per call. */
export const FAILURE_LOG_WINDOW = 10_000;

/**
 * Logs the lock errors that reach a caller of `using()`, `stream()`, `@Locked` or `@UseLock`, once each: Nest's
 * exception filter does not log an HttpException, so without this a 500 or 503 would leave no line on the server.
 * A busy lock (409) is a normal answer and goes to debug; the rest (store unavailable, invalid options, a lost lock
 * thrown by the work) go to error, with the same failure repeated within {@link FAILURE_LOG_WINDOW} counted instead.
 */
export class LockFailureLog {
  private readonly reported = new WeakSet<object>();
  private readonly quiet = new Map<string, { until: number; suppressed: number }>();

  /** @param logger where the lines go */
  constructor(private readonly logger: LockLogger) {}

  /**
   * Logs `error` unless it was logged already (a nested call rejects with the same error) or is not a lock error.
   * @param error what the call rejected with
   */
  report(error: unknown): void {
    if (!(error instanceof LockError) || this.reported.has(error)) {
      return;
    }
    this.reported.add(error);
    if (error instanceof LockNotAcquiredError) {
      this.logger.debug(error.message);
      return;
    }
    // An outage fails every key the same way: one line per window, whatever the keys.
    const kind = error instanceof LockStoreUnavailableError ? error.name : `${error.name}: ${error.message}`;
    const now = clock.epoch();
    const window = this.quiet.get(kind);
    if (window && window.until > now) {
      window.suppressed += 1;
      return;
    }
    const repeated =
      window && window.suppressed > 0 ? ` (and ${window.suppressed} more like it in the last ${FAILURE_LOG_WINDOW / 1000} s)` : '';
    this.forgetExpired(now);
    this.quiet.set(kind, { until: now + FAILURE_LOG_WINDOW, suppressed: 0 });
    this.logger.error(`${error.name}: ${error.message}${repeated}`);
  }

  private forgetExpired(now: number): void {
    for (const [kind, window] of this.quiet) {
      if (window.until <= now) {
        this.quiet.delete(kind);
      }
    }
  }
}

import { performance } from 'node:perf_hooks';

/** A handle of a timer set on a {@link Clock}. */
export type ClockTimerHandle = object | number;

/**
 * Where the library reads the time and sets its timers: the monotonic clock that leases are counted on, the wall
 * clock that `Lock.expiresAt` is given in, and one-shot timers.
 */
export interface Clock {
  /** Monotonic ms, as `performance.now()`: leases, deadlines and waits are counted on it. */
  now(): number;
  /** Wall-clock ms since the epoch, as `Date.now()`. */
  epoch(): number;
  /**
   * Calls `callback` once after `ms` (at most `MAX_TIMER_DELAY`).
   * @param unref whether the timer may let the process exit
   */
  setTimer(callback: () => void, ms: number, unref: boolean): ClockTimerHandle;
  /** Cancels a timer set with {@link Clock.setTimer}. */
  clearTimer(handle: ClockTimerHandle): void;
}

/** The process's clocks and Node's timers. */
const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  epoch: () => Date.now(),
  setTimer: (callback, ms, unref) => {
    const handle = setTimeout(callback, ms);
    if (unref) {
      handle.unref();
    }
    return handle;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

let active: Clock = SYSTEM_CLOCK;

/**
 * The clock every part of the library reads: the system's, except inside a test that installed its own with
 * {@link useClock}.
 */
export const clock: Clock = {
  now: () => active.now(),
  epoch: () => active.epoch(),
  setTimer: (callback, ms, unref) => active.setTimer(callback, ms, unref),
  clearTimer: (handle) => active.clearTimer(handle),
};

/**
 * Makes the library read `replacement` instead of the system clock, so that a test can stall the process (move the
 * time on with no timer running) or run hours of leases in milliseconds.
 * @param replacement the clock to use
 * @returns puts the system clock back
 * @internal
 */
export function useClock(replacement: Clock): () => void {
  active = replacement;
  return () => {
    active = SYSTEM_CLOCK;
  };
}

import { clock, type ClockTimerHandle } from './clock.util.js';

/** Longest delay Node's `setTimeout` honours; a longer one fires after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A timer that can be cleared. */
export interface Timer {
  clear(): void;
}

/**
 * Calls `callback` once after `delay` ms, for any delay: longer ones are chained through several Node timers, and
 * `Infinity` never fires. Negative delays fire at once (on the next timer tick).
 * @param callback what to run
 * @param delay ms
 * @param unref whether the timer may let the process exit @default true
 */
export function startTimer(callback: () => void, delay: number, unref = true): Timer {
  let handle: ClockTimerHandle | undefined;
  const arm = (left: number): void => {
    if (left === Number.POSITIVE_INFINITY) {
      return;
    }
    const step = Math.min(Math.max(0, left), MAX_TIMER_DELAY);
    handle = clock.setTimer(() => (left > MAX_TIMER_DELAY ? arm(left - MAX_TIMER_DELAY) : callback()), step, unref);
  };
  arm(delay);
  return { clear: () => handle !== undefined && clock.clearTimer(handle) };
}

/**
 * Resolves when `promise` settles, `ms` pass or `signal` aborts, whichever is first, leaving no timer or listener
 * behind.
 * @param promise what to wait for
 * @param ms longest wait (any duration, `Infinity` included)
 * @param signal ends the wait early
 */
export function settleWithin(promise: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const done = (): void => {
      timer.clear();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = startTimer(done, ms, false);
    signal?.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

const NEVER = new Promise<never>(() => undefined);

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 * @param ms ms (any duration)
 * @param signal ends the pause early
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return settleWithin(NEVER, ms, signal);
}

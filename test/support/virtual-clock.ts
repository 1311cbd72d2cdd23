import type { Clock, ClockTimerHandle } from '../../lib/utils/clock.util';
import { useClock } from '../../lib/utils/clock.util';

interface VirtualTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Lets every promise chain that is ready run to its end (the library's work between two timers). */
export async function settle(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * A clock a test moves by hand, installed as the library's clock: `advance` lets time pass with the event loop
 * free (timers fire in order, and promise chains settle between them); `stall` moves the time on with no timer
 * running, as a long GC pause or a CPU-bound handler does, so the next line of the test runs before any timer.
 */
export class VirtualClock implements Clock {
  private time = 1_000;
  private seq = 0;
  private readonly timers = new Map<number, VirtualTimer>();
  private readonly restore: () => void;

  constructor(private readonly epochAtStart = Date.UTC(2026, 0, 1)) {
    this.restore = useClock(this);
  }

  now(): number {
    return this.time;
  }

  epoch(): number {
    return this.epochAtStart + this.time;
  }

  setTimer(callback: () => void, ms: number): ClockTimerHandle {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.time + Math.max(0, ms), seq: this.seq, callback });
    return this.seq;
  }

  clearTimer(handle: ClockTimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers still set. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * Lets `ms` pass: every timer due by then fires in time order (overdue ones first, at the time they find), with
   * the promise chains they start settled before the next.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (let next = this.nextDue(end); next; next = this.nextDue(end)) {
      this.timers.delete(next.seq);
      this.time = Math.max(this.time, next.at);
      next.callback();
      await settle();
    }
    this.time = Math.max(this.time, end);
    await settle();
  }

  /** The process is blocked for `ms`: the time moves on, nothing runs. */
  stall(ms: number): void {
    this.time += ms;
  }

  /** Puts the system clock back. */
  uninstall(): void {
    this.restore();
  }

  private nextDue(end: number): VirtualTimer | undefined {
    let first: VirtualTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.at <= end && (!first || timer.at < first.at || (timer.at === first.at && timer.seq < first.seq))) {
        first = timer;
      }
    }
    return first;
  }
}

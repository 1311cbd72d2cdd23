import { setTimeout as sleep } from 'node:timers/promises';
import { settle, type VirtualClock } from '../support/virtual-clock';

/** How time moves in an exploration: on a virtual clock (the memory store), or for real (a real Redis). */
export interface ExplorationTime {
  /** Lets `ms` pass with the event loop free, running `check` along the way (if given). */
  pass(ms: number, check?: () => Promise<void>): Promise<void>;
  /** Blocks the process for `ms`: no timer and no I/O runs (a long GC pause, a CPU-bound handler). */
  stall(ms: number): void;
  /** Lets what the last step started run until it waits for the clock. */
  settle(): Promise<void>;
}

/** Time on a virtual clock: a millisecond at a time, with the world checked after each. */
export function virtualTime(clock: VirtualClock): ExplorationTime {
  return {
    pass: async (ms, check) => {
      if (!check) {
        await clock.advance(ms);
        return;
      }
      for (let i = 0; i < ms; i += 1) {
        await clock.advance(1);
        await check();
      }
    },
    stall: (ms) => clock.stall(ms),
    settle: () => settle(),
  };
}

/** Real time, with a real store: passing time sleeps, a stall busy-waits, settling waits for the store's replies. */
export function realTime(settleFor = 5): ExplorationTime {
  return {
    pass: async (ms, check) => {
      await sleep(ms);
      await check?.();
    },
    stall: (ms) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // busy: nothing else of the process runs
      }
    },
    settle: () => sleep(settleFor),
  };
}

import { performance } from 'node:perf_hooks';
import { settleWithin } from '../utils/timer.util.js';

/** A caller of this process waiting for its turn at one key; `wake` is set once it has someone before it. */
interface LocalWaiter {
  wake?: () => void;
}

/** The end of a caller's turn: lets the next caller of this process at the key go on. */
export interface LocalTurn {
  done(): void;
}

/**
 * The callers of one process waiting for the same key, in arrival order: only the first of them talks to the
 * store, so 100 waiters in one process cost a handful of commands, not 100 pollers.
 */
export class LocalQueue {
  private readonly queues = new Map<string, LocalWaiter[]>();

  /**
   * Waits until every earlier caller of this process waiting for `key` is done.
   * @param key the key
   * @param deadline `performance.now()` time after which the caller gives up
   * @param signal ends the wait early (rejects with its reason)
   * @param busy the error to reject with when the deadline passes first
   */
  async turn(key: string, deadline: number, signal: AbortSignal, busy: () => Error): Promise<LocalTurn> {
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, queue);
    const me: LocalWaiter = {};
    queue.push(me);
    const done = (): void => {
      const index = queue.indexOf(me);
      queue.splice(index, 1);
      if (index === 0) {
        queue[0]?.wake?.();
      }
      if (queue.length === 0 && this.queues.get(key) === queue) {
        this.queues.delete(key);
      }
    };
    if (queue.length > 1) {
      await settleWithin(new Promise<void>((resolve) => (me.wake = resolve)), deadline - performance.now(), signal);
      if (queue[0] !== me) {
        done();
        signal.throwIfAborted();
        throw busy();
      }
    }
    return { done };
  }
}

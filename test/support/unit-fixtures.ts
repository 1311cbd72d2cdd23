import { Lock, type LockStore } from '../../lib';
import type { LockGrant, LockHandleContext } from '../../lib/core/lock';
import type { LocalQueue } from '../../lib/core/acquisition/local-queue';
import { createLockLogger } from '../../lib/lock.logger';
import { clock } from '../../lib/utils/clock.util';

/** What became of a promise so far, read without awaiting it (the test moves a virtual clock meanwhile). */
export interface Observed<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
}

/**
 * Watches `promise` settle, so that a test can check that it has not yet (and catch its rejection without an
 * unhandled one).
 * @param promise what to watch
 */
export function observe<T>(promise: Promise<T>): Observed<T> {
  const observed: Observed<T> = { settled: false };
  promise.then(
    (value) => Object.assign(observed, { settled: true, value }),
    (error: unknown) => Object.assign(observed, { settled: true, error }),
  );
  return observed;
}

/**
 * A real {@link Lock} over `store`, without a service around it: a silent logger, nothing passed on, events dropped.
 * @param grant the keys, token and fencing token, and any other field of the grant (ttl 1000 ms, no watchdog, no
 * minimum hold, lease counted from now by default)
 * @param context any part of the handle's context to replace
 */
export function lockHandle(
  store: LockStore,
  grant: Pick<LockGrant, 'keys' | 'token' | 'fencingToken'> & Partial<LockGrant>,
  context: Partial<LockHandleContext> = {},
): Lock {
  return new Lock(
    { ttl: 1_000, autoExtend: false, minHold: 0, startedAt: clock.now(), ...grant },
    {
      store,
      logger: createLockLogger('test', false),
      settled: () => undefined,
      emit: () => undefined,
      stopped: new AbortController().signal,
      ...context,
    },
  );
}

/** How many keys a local queue still keeps anything for (callers, a hold, a parked lease). */
export function queuedKeys(queue: LocalQueue): number {
  return (queue as unknown as { keys: Map<string, unknown> }).keys.size;
}

// One stress worker: a Nest app whose loops take random locks in random ways until told to stop, enter the
// referee's critical section while they hold one, and report every acquisition to the runner over IPC.
import { setTimeout as sleep } from 'node:timers/promises';
import { LockError, LockNotAcquiredError, LockStoreUnavailableError, type Lock } from '../../lib';
import { runStressWorker } from './stress.worker-app';

runStressWorker(async ({ config, locks, checker, random, pick, send, stopping, shutdownAsked, close, closing, finishOnShutdown }) => {
  // By fencing token: unique per holder, while holders the lock was passed to inside a process share a store token.
  const released = new Set<number>();
  locks.events.subscribe((event) => {
    if (event.type === 'released') {
      released.add(event.fencingToken);
    }
  });
  let sequence = 0;
  // When this process could not run (another starting on the same 2 cores, the runner's SIGSTOP): a wait's bound
  // counts from when its process runs.
  const stalls: Array<[number, number]> = [];
  let beat = Date.now();
  setInterval(() => {
    const now = Date.now();
    if (now - beat > 60) {
      stalls.push([beat, now]);
      stalls.splice(0, stalls.length - 500);
    }
    beat = now;
  }, 20).unref();
  const stalledBetween = (from: number, to: number): number =>
    stalls.reduce((sum, [start, end]) => sum + Math.max(0, Math.min(end, to) - Math.max(start, from)), 0);
  /** `using()` sections inside the referee's critical section now, and a wake-up for whoever waits for one. */
  let insideUsing = 0;
  let entered: () => void = () => undefined;

  const keyNames = Array.from({ length: config.keys }, (_, i) => `k${i}`);
  const critical = async (lock: Lock, holder: string, onEntered: () => void = () => undefined): Promise<void> => {
    await checker.enter(lock.keys, lock.fencingToken, holder, lock.limit, lock.mode);
    onEntered();
    for (let step = 1 + Math.floor(random() * 3); step > 0 && !lock.signal.aborted; step -= 1) {
      await sleep(Math.floor(random() * 40));
      if (random() < 0.15) {
        await lock.extend().catch(() => undefined);
      }
      // Only an exclusive holder's writes are ordered by fencing token; permits and readers hold the key together.
      if (!lock.signal.aborted && lock.limit === 1 && lock.mode === 'write') {
        await checker.write(lock.keys[0], lock.fencingToken);
      }
    }
    await checker.exit(lock.keys, holder);
  };

  const iteration = async (): Promise<void> => {
    const holder = `${config.id}:${(sequence += 1)}`;
    const { keys, share } = config.shares && random() < 0.3 ? pickShared() : { keys: pickExclusive(), share: {} };
    const waitTimeout = pick([0, 50, 300, 1_000, 3_000]);
    const abortAfter = random() < 0.2 ? Math.floor(random() * 600) : undefined;
    const options = {
      ttl: pick([150, 300, 1_000, 2_000, 5_000]),
      waitTimeout,
      autoExtend: random() < 0.8,
      minHold: random() < 0.1 ? Math.floor(random() * 200) : undefined,
      signal: abortAfter === undefined ? undefined : AbortSignal.timeout(abortAfter),
      ...share,
    };
    const style = pick(['acquire', 'acquire', 'using', 'try', 'stream'] as const);
    const started = Date.now();
    let waited: number | undefined;
    let lock: Lock | undefined;
    try {
      if (style === 'using') {
        await locks.using(
          keys,
          async (held) => {
            waited = Date.now() - started;
            lock = held;
            let inside = false;
            try {
              await critical(held, holder, () => {
                inside = true;
                insideUsing += 1;
                entered();
              });
            } finally {
              insideUsing -= inside ? 1 : 0;
            }
          },
          options,
        );
      } else if (style === 'stream') {
        // A stream unsubscribed while its handler is inside (an outer timeout): the handler is told (its signal
        // aborts) and the lock stays held until it has left; another holder entering before would be an overlap.
        let inside: Promise<void> | undefined;
        const unsubscribed = new Promise<void>((resolve) => {
          const subscription = locks
            .stream(
              keys,
              (held) => {
                waited = Date.now() - started;
                lock = held;
                inside = critical(held, holder);
                setTimeout(
                  () => {
                    subscription.unsubscribe();
                    resolve();
                  },
                  Math.floor(random() * 60),
                );
                return inside;
              },
              options,
            )
            .subscribe({ error: (error: unknown) => resolve(Promise.reject(error)), complete: resolve });
        });
        await unsubscribed;
        await inside;
      } else {
        lock = (style === 'try' ? await locks.tryAcquire(keys, options) : await locks.acquire(keys, options)) ?? undefined;
        waited = Date.now() - started;
        if (lock) {
          const section = critical(lock, holder);
          finishOnShutdown(section);
          await section;
          await lock.release().catch(() => undefined);
        }
      }
    } catch (error) {
      waited ??= Date.now() - started;
      const expected =
        error instanceof LockNotAcquiredError ||
        error instanceof LockStoreUnavailableError ||
        (options.signal?.aborted && error === options.signal.reason) ||
        (closing() && error instanceof LockError && /shutting down/.test(error.message));
      if (!expected) {
        send({ type: 'violation', what: `unexpected error from ${style}: ${error instanceof Error ? error.stack : String(error)}` });
      }
    }
    const bound = style === 'try' ? 0 : Math.min(waitTimeout, abortAfter ?? Number.POSITIVE_INFINITY);
    send({
      type: 'acquisition',
      holder,
      worker: config.id,
      started,
      waited,
      bound,
      stalled: waited === undefined ? 0 : stalledBetween(started, started + waited),
      fence: lock?.fencingToken,
      clean: lock ? released.has(lock.fencingToken) : undefined,
    });
  };

  function pickExclusive(): string[] {
    return random() < 0.2 ? [pick(keyNames), pick(keyNames)] : [pick(keyNames)];
  }

  /** A permit of one or both semaphores (limit 2), or a read or write lock of the read-write key. */
  function pickShared(): { keys: string[]; share: { limit?: number; mode?: 'read' | 'write' } } {
    if (random() < 0.5) {
      return { keys: random() < 0.2 ? ['s0', 's1'] : [pick(['s0', 's1'])], share: { limit: 2 } };
    }
    return { keys: ['d0'], share: { mode: random() < 0.7 ? 'read' : 'write' } };
  }

  // Asked to shut down: close the app once a using() section is inside (or after a while without one).
  void shutdownAsked.then(async () => {
    if (insideUsing === 0) {
      await Promise.race([new Promise<void>((resolve) => (entered = resolve)), sleep(3_000)]);
    }
    send({ type: 'shutdown', worker: config.id, inside: insideUsing });
    await close();
  });

  const loops = Array.from({ length: config.loops }, async () => {
    while (!stopping()) {
      await iteration();
    }
  });
  send({ type: 'ready', worker: config.id });
  await Promise.all(loops);
});

import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidLockOptionsError, LockLostError, type LockError } from '../errors/index.js';
import type { LockShare } from '../interfaces/index.js';
import { shareFields } from '../utils/lock-share.util.js';
import type { Lock } from './lock.js';

/** One lock held by a call chain, with how many nested holders are inside it. */
interface Hold {
  readonly lock: Lock;
  count: number;
}

/** A lock entered by a call chain: run work inside it, then leave it once. */
export interface LockEntry {
  /** The lock the caller asked for (for re-entry, the one the chain holds). */
  readonly lock: Lock;
  /** Runs `fn` with the lock visible to `current()` and re-entrant for nested calls. */
  run<T>(fn: () => T): T;
  /**
   * Tells the work inside that nobody waits for it any more: aborts the signal of the lock this entry took (a lock
   * it re-entered belongs to an outer holder, whose work goes on).
   * @param reason why the work should stop
   */
  abandon(reason: LockError): void;
  /**
   * Leaves the lock; the outermost holder's exit releases it. Never rejects: the work is done by then, so a
   * release that fails is reported by `release` instead of failing the work.
   */
  exit(): Promise<void>;
}

/**
 * The locks each call chain holds, per owner. One storage for the whole process, not one per owner: in Node 20
 * every AsyncLocalStorage ever used costs each promise of the process, so one per app made a process that creates
 * and closes apps (test suites, hot reload) slower with every app.
 */
const CALL_CHAINS = new AsyncLocalStorage<ReadonlyMap<object, ReadonlyMap<string, Hold>>>();

/**
 * Re-entrancy within a call chain (tracked with AsyncLocalStorage): a chain that holds a key runs nested work on
 * it straight through, and the outermost holder's exit releases it.
 */
export class CallChain {
  /** The locks this owner's chains took, until their outermost holder has left them (and the release settled). */
  private readonly working = new Map<Lock, { left: Promise<void>; leave(): void }>();

  /**
   * @param owner the chains are kept apart per owner (each app's LockService)
   * @param release releases a lock whose outermost holder left; must not reject
   */
  constructor(
    private readonly owner: object,
    private readonly release: (lock: Lock) => Promise<void>,
  ) {}

  /** The locks whose work is still running: taken by a call chain whose outermost holder has not left them yet. */
  get running(): Lock[] {
    return [...this.working.keys()];
  }

  /** Resolves once the work running now has left its locks, and their releases have settled. */
  async idle(): Promise<void> {
    await Promise.all([...this.working.values()].map((work) => work.left));
  }

  /**
   * The lock the current call chain holds on `key`, or without a key the innermost one.
   * @param key a key
   */
  current(key?: string): Lock | undefined {
    const chain = this.chain();
    if (key !== undefined) {
      return chain.get(key)?.lock;
    }
    return [...chain.values()].pop()?.lock;
  }

  /**
   * Enters the lock of `keys`: re-enters those the chain holds (a lost one rejects with its LockLostError) and
   * has `take` acquire the others, together.
   * @param keys the keys
   * @param share how the caller shares them (a held writer covers a reader; anything else must match)
   * @param take acquires the keys the chain does not hold yet
   */
  async enter(keys: readonly string[], share: LockShare | undefined, take: (missing: string[]) => Promise<Lock>): Promise<LockEntry> {
    const chain = this.chain();
    const reentered = new Set<Hold>();
    for (const key of keys) {
      const hold = chain.get(key);
      if (hold) {
        assertCovers(hold.lock, key, share);
      }
      if (hold && !hold.lock.isHeld) {
        throw hold.lock.signal.reason instanceof LockLostError
          ? hold.lock.signal.reason
          : new LockLostError(hold.lock.keys, 'it is no longer held by this call chain');
      }
      if (hold) {
        reentered.add(hold);
      }
    }
    const missing = keys.filter((key) => !chain.has(key));
    const context = new Map(chain);
    const holds = [...reentered];
    const fresh: Hold | undefined = missing.length > 0 ? { lock: await take(missing), count: 0 } : undefined;
    if (fresh) {
      missing.forEach((key) => context.set(key, fresh));
      holds.push(fresh);
      let leave: () => void = () => undefined;
      const left = new Promise<void>((resolve) => (leave = resolve));
      this.working.set(fresh.lock, { left, leave });
    }
    holds.forEach((hold) => (hold.count += 1));
    let exited = false;
    return {
      lock: (context.get(missing[0] ?? keys[0]) as Hold).lock,
      run: (fn) => CALL_CHAINS.run(new Map(CALL_CHAINS.getStore()).set(this.owner, context), fn),
      abandon: (reason) => fresh?.lock.interrupt(reason),
      exit: async () => {
        if (exited) {
          return;
        }
        exited = true;
        await Promise.all(holds.filter((hold) => (hold.count -= 1) === 0).map((hold) => this.leave(hold.lock)));
      },
    };
  }

  /** The outermost holder left `lock`: releases it, then the work under it counts as ended. */
  private async leave(lock: Lock): Promise<void> {
    await this.release(lock);
    this.working.get(lock)?.leave();
    this.working.delete(lock);
  }

  /**
   * The holds of the current call chain that some holder is still inside. A hold every holder left is a leftover:
   * work that outlived its lock's end (a timer, a retry re-subscribing from inside the attempt it replaces) is no
   * longer inside it, and takes the key anew.
   */
  private chain(): ReadonlyMap<string, Hold> {
    const chain = CALL_CHAINS.getStore()?.get(this.owner);
    return new Map([...(chain ?? [])].filter(([, hold]) => hold.count > 0));
  }
}

/** A chain's hold on a key covers a nested caller that shares it the same way, or a reader inside a writer. */
function assertCovers(held: Lock, key: string, share: LockShare | undefined): void {
  const asked = shareFields(share);
  if (held.limit === asked.limit && (held.mode === asked.mode || (held.mode === 'write' && asked.mode === 'read'))) {
    return;
  }
  const upgrade = held.mode === 'read' && asked.mode === 'write' && asked.limit === 1;
  throw new InvalidLockOptionsError(
    upgrade
      ? `This call chain holds a read lock on ${JSON.stringify(key)} and asks for a write lock on it: it would wait for itself. ` +
          `Take the write lock first (a writer may read), or release the read lock before writing.`
      : `This call chain holds ${JSON.stringify(key)} with mode '${held.mode}' and limit ${held.limit}, and asks for it again ` +
          `with mode '${asked.mode}' and limit ${asked.limit}: every caller of a key must use the same limit.`,
  );
}

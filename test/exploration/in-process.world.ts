import { LockService, LockStoreUnavailableError, type Lock, type LockModuleOptions, type LockOptions, type LockStore } from '../../lib';
import type { MemoryLockStore } from '../../lib';
import type { VirtualClock } from '../support/virtual-clock';
import type { ExplorationTime } from './exploration.time';
import { resolveLockModuleOptions } from '../../lib/options/lock-module-options.resolver';
import { clock } from '../../lib/utils/clock.util';

/** The keys the apps fight over, one kind each (every caller of a key shares it the same way). */
export const KEYS = {
  m: { kind: 'mutex' },
  s: { kind: 'semaphore', limit: 2 },
  rw: { kind: 'read-write' },
} as const;
export type WorldKey = keyof typeof KEYS;

/** A caller that found the store down tries again this long after (the acquisition's pause while it is unreachable). */
const OUTAGE_RETRY = 100;

/** The store every app shares, with the outage a test can switch on: every call fails as an unreachable Redis does. */
export class FaultyStore implements LockStore {
  readonly shares = true;
  available = true;
  /** Waiters whose way out of the queue the outage cut: their places last until they lapse by themselves. */
  readonly abandoned = new Set<string>();

  /**
   * @param inner the store
   * @param queueHead the token heading a key's queue in `inner`, if any
   */
  constructor(
    readonly inner: LockStore,
    readonly queueHead: (key: string) => Promise<string | undefined>,
  ) {}

  private check(operation: string): void {
    if (!this.available) {
      throw new LockStoreUnavailableError(operation, new Error('switched off by the test'));
    }
  }

  async acquire(...args: Parameters<LockStore['acquire']>): ReturnType<LockStore['acquire']> {
    this.check('acquire');
    return this.inner.acquire(...args);
  }

  async leave(...args: Parameters<NonNullable<LockStore['leave']>>): Promise<void> {
    if (!this.available) {
      this.abandoned.add(args[1]);
    }
    this.check('leave');
    return this.inner.leave?.(...args);
  }

  async extend(...args: Parameters<LockStore['extend']>): Promise<boolean> {
    this.check('extend');
    return this.inner.extend(...args);
  }

  async release(...args: Parameters<LockStore['release']>): Promise<boolean> {
    this.check('release');
    return this.inner.release(...args);
  }

  async isLocked(keys: readonly string[]): Promise<boolean> {
    this.check('isLocked');
    return this.inner.isLocked(keys);
  }

  watch(...args: Parameters<NonNullable<LockStore['watch']>>): ReturnType<NonNullable<LockStore['watch']>> {
    return this.inner.watch?.(...args);
  }
}

/** One caller's `acquire()`, from the call to its outcome. */
export interface Call {
  readonly id: number;
  readonly app: WorldApp;
  readonly key: WorldKey;
  readonly options: LockOptions;
  readonly exclusive: boolean;
  readonly deadline: number;
  readonly controller: AbortController;
  state: 'pending' | 'held' | 'failed';
  lock?: Lock;
  error?: unknown;
  /** When it was granted (`clock.now()`), and its place in the order of grants. */
  grantedAt?: number;
  grantOrder?: number;
  /** Released while its minimum hold ran: it still counts as a holder until then. */
  keptUntil?: number;
  /** `clock.now()` when its hold ended for good (released after the minimum hold, lost, or run out). */
  endedAt?: number;
}

/** One app (a LockService of its own, as one instance of a service), until it shuts down. */
export interface WorldApp {
  readonly name: string;
  readonly service: LockService;
  alive: boolean;
}

/**
 * Two or three apps on one memory store and one virtual clock, the calls they make, and the invariants checked after
 * every step: never more holders than a key admits (counting a released lock's minimum hold), fencing tokens that
 * go up from one holder to the next, waits that end by their deadline, no caller asleep while its key is free, and
 * nothing left behind once everything settled.
 */
export class World {
  readonly store: FaultyStore;
  readonly apps: WorldApp[] = [];
  readonly calls: Call[] = [];
  readonly violations: string[] = [];
  private grants = 0;
  private appCount = 0;
  private readonly freeSince = new Map<WorldKey, number>();
  private lastOutageAt = Number.NEGATIVE_INFINITY;

  /**
   * @param apps how many apps share the store
   * @param store the store they share
   * @param moduleOptions the module options of every app
   * @param slack in ms: how long a key may stay free while a caller of it waits before that counts as sleeping
   * through its turn, and how long past its deadline a wait may take to end (a reply on its way, with a real store)
   */
  constructor(
    apps: number,
    store: LockStore,
    queueHead: (key: string) => Promise<string | undefined>,
    private readonly moduleOptions: LockModuleOptions = {},
    private readonly slack = { free: 10, deadline: 1 },
  ) {
    this.store = new FaultyStore(store, queueHead);
    for (let i = 0; i < apps; i += 1) {
      this.apps.push(this.newApp());
    }
  }

  private newApp(): WorldApp {
    this.appCount += 1;
    const options = resolveLockModuleOptions({ store: this.store, logger: false, ...this.moduleOptions });
    return { name: `app${this.appCount}`, service: new LockService(options, this.store), alive: true };
  }

  /**
   * Starts an `acquire()` on the app at `index` (a live one).
   * @param holdFor when given, the caller releases the lock this many ms after it got it (its work)
   */
  acquire(index: number, key: WorldKey, options: LockOptions, holdFor?: number): Call {
    const app = this.apps[index % this.apps.length];
    const controller = new AbortController();
    const spec = KEYS[key];
    const call: Call = {
      id: this.calls.length + 1,
      app,
      key,
      options,
      exclusive: spec.kind === 'mutex' || (spec.kind === 'read-write' && options.mode !== 'read'),
      deadline: clock.now() + (options.waitTimeout ?? 0),
      controller,
      state: 'pending',
    };
    this.calls.push(call);
    app.service.acquire(key, { ...options, signal: controller.signal }).then(
      (lock) => {
        this.granted(call, lock);
        if (holdFor !== undefined) {
          clock.setTimer(() => call.endedAt === undefined && call.keptUntil === undefined && this.release(call), holdFor, true);
        }
      },
      (error: unknown) => {
        call.state = 'failed';
        call.error = error;
      },
    );
    return call;
  }

  /** Locks granted and not released by the test, oldest first. */
  held(): Call[] {
    return this.calls.filter((call) => call.state === 'held' && call.endedAt === undefined && call.keptUntil === undefined);
  }

  pending(): Call[] {
    return this.calls.filter((call) => call.state === 'pending');
  }

  /** Releases a held lock, as its caller would. */
  release(call: Call): void {
    const lock = call.lock as Lock;
    const minHold = call.options.minHold ?? 0;
    const leaseEnd = this.leaseEnd(lock);
    const now = clock.now();
    if (lock.isHeld && minHold > 0 && (call.grantedAt as number) + minHold > now) {
      call.keptUntil = Math.min((call.grantedAt as number) + minHold, leaseEnd);
    } else {
      call.endedAt = now;
    }
    lock.release().catch(() => undefined);
  }

  /** Shuts the app down (as `app.close()` does) and starts a new one in its place. */
  async shutdown(index: number): Promise<void> {
    const slot = index % this.apps.length;
    const app = this.apps[slot];
    app.alive = false;
    this.apps[slot] = this.newApp();
    for (const call of this.calls) {
      if (call.app === app && call.state === 'held' && call.endedAt === undefined && call.keptUntil === undefined) {
        call.endedAt = clock.now();
      }
    }
    await app.service.onApplicationShutdown();
  }

  setAvailable(available: boolean): void {
    this.store.available = available;
    this.lastOutageAt = clock.now();
  }

  /** Checks what must hold after every step. */
  async check(afterTimePassed: boolean): Promise<void> {
    const now = clock.now();
    for (const key of Object.keys(KEYS) as WorldKey[]) {
      this.checkHolders(key, now);
    }
    if (!afterTimePassed) {
      return;
    }
    for (const call of this.pending()) {
      if (call.deadline + this.slack.deadline < now && !call.controller.signal.aborted) {
        this.violate(`call ${call.id} (${call.app.name} ${call.key}) still waits ${now - call.deadline} ms past its waitTimeout`);
      }
    }
    await this.checkNobodySleepsOnAFreeKey(now);
  }

  private checkHolders(key: WorldKey, now: number): void {
    const holders = this.calls.filter(
      (call) =>
        call.key === key &&
        call.state === 'held' &&
        ((call.endedAt === undefined && call.keptUntil === undefined && (call.lock as Lock).isHeld) ||
          (call.keptUntil !== undefined && call.keptUntil > now)),
    );
    const spec = KEYS[key];
    const writers = holders.filter((call) => call.exclusive).length;
    const limit = spec.kind === 'semaphore' ? spec.limit : 1;
    const tooMany = spec.kind === 'read-write' ? writers > 1 || (writers === 1 && holders.length > 1) : holders.length > limit;
    if (tooMany) {
      const who = holders.map(
        (call) =>
          `${call.id}:${call.app.name}:${call.options.mode ?? 'x'}#${call.lock?.fencingToken}${call.keptUntil === undefined ? '' : ' (kept for minHold)'}`,
      );
      this.violate(`${key} has ${holders.length} holders at once (${who.join(', ')})`);
    }
  }

  private async checkNobodySleepsOnAFreeKey(now: number): Promise<void> {
    for (const key of Object.keys(KEYS) as WorldKey[]) {
      const waiting = this.pending().filter(
        (call) => call.key === key && call.app.alive && !call.controller.signal.aborted && call.deadline > now,
      );
      // A place abandoned while the store was down (its waiter could not leave) holds the key until it lapses.
      const head = await this.store.queueHead(key);
      const free = this.store.available && !(await this.store.inner.isLocked([key])) && !(head && this.store.abandoned.has(head));
      if (waiting.length === 0 || !free) {
        this.freeSince.delete(key);
        continue;
      }
      const since = Math.max(this.freeSince.get(key) ?? now, this.lastOutageAt + OUTAGE_RETRY);
      this.freeSince.set(key, since);
      if (now - since > this.slack.free) {
        this.violate(`${key} has been free for ${now - since} ms while call(s) ${waiting.map((call) => call.id).join(', ')} wait for it`);
      }
    }
  }

  private granted(call: Call, lock: Lock): void {
    call.state = 'held';
    call.lock = lock;
    call.grantedAt = clock.now();
    call.grantOrder = ++this.grants;
    const earlier = this.calls.filter((other) => other !== call && other.key === call.key && other.grantOrder !== undefined);
    for (const other of earlier) {
      const otherLock = other.lock as Lock;
      if (otherLock.fencingToken === lock.fencingToken) {
        this.violate(`${call.key}: calls ${other.id} and ${call.id} got the same fencing token ${lock.fencingToken}`);
      }
      const ended = other.endedAt !== undefined || !otherLock.isHeld;
      if (
        ended &&
        otherLock.fencingToken > lock.fencingToken &&
        (call.exclusive || other.exclusive || KEYS[call.key].kind === 'semaphore')
      ) {
        this.violate(
          `${call.key}: call ${call.id} (${call.app.name}) got fencing token ${lock.fencingToken}, below ${otherLock.fencingToken} of call ${other.id} (${other.app.name}) that held it before`,
        );
      }
    }
  }

  /** The lease's local end of a lock, on the monotonic clock. */
  private leaseEnd(lock: Lock): number {
    return lock.expiresAt - clock.epoch() + clock.now();
  }

  violate(message: string): void {
    this.violations.push(`t=${clock.now()}: ${message}`);
  }
}

/** Reads what an object keeps in a private Map (the test looks inside to see that nothing is left behind). */
function mapSize(owner: unknown, ...path: string[]): number {
  let value: unknown = owner;
  for (const name of path) {
    value = (value as Record<string, unknown>)[name];
  }
  return (value as Map<unknown, unknown>).size;
}

/**
 * Ends every call (releases what is held, aborts what waits, brings the store back), lets the leases run out, and
 * reports what is still there: calls that never settled, local queue entries, and what `storeLeftovers` finds.
 */
export async function settleEverything(
  world: World,
  time: ExplorationTime,
  storeLeftovers: () => Promise<string[]>,
  settleFor = 2_000,
): Promise<string[]> {
  world.setAvailable(true);
  for (const call of world.pending()) {
    call.controller.abort(new Error('the test is over'));
  }
  for (const call of world.held()) {
    world.release(call);
  }
  await time.pass(settleFor);
  const left: string[] = [];
  const unsettled = world.pending();
  if (unsettled.length > 0) {
    left.push(`calls ${unsettled.map((call) => call.id).join(', ')} never settled`);
  }
  for (const app of world.apps) {
    if (mapSize(app.service, 'acquisitions', 'queue', 'keys') > 0) {
      left.push(`${app.name} still has local queue entries`);
    }
  }
  return [...left, ...(await storeLeftovers())];
}

/** The token heading a key's queue in a memory store. */
export function memoryQueueHead(store: MemoryLockStore): (key: string) => Promise<string | undefined> {
  const queues = (store as unknown as { queues: { head(key: string): { token: string } | undefined } }).queues;
  return async (key) => queues.head(key)?.token;
}

/** What a memory store and the virtual clock still hold once everything settled. */
export function memoryLeftovers(store: MemoryLockStore, clock: VirtualClock): () => Promise<string[]> {
  return async () => {
    // The memory store drops ended entries when it looks at them: look, as a later call would.
    (store as unknown as { sweep(): void }).sweep();
    const stored = {
      locks: (await store.isLocked(Object.keys(KEYS))) ? 1 : 0,
      queues: mapSize(store, 'queues', 'queues'),
      shared: mapSize(store, 'shared', 'holds'),
      subscriptions: mapSize(store, 'listeners'),
      timers: clock.pendingTimers,
    };
    return Object.entries(stored)
      .filter(([, count]) => count > 0)
      .map(([what, count]) => `${count} ${what} left`);
  };
}

/** Injection token of the resolved {@link LockModuleOptions}. */
export const LOCK_MODULE_OPTIONS = 'lock:module-options';

/** Injection token of the {@link LockStore} the module uses (see `stores/lock-store.interface.ts`). */
export const LOCK_STORE_TOKEN = 'lock:store';

/** Metadata key under which `@Locked` records its definition on the decorated method. */
export const LOCKED_METADATA = 'lock:locked';

/** Default Redis connection. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Default namespace of every Redis key and channel the library writes. */
export const DEFAULT_PREFIX = 'lock:';

/** Default lease of a lock, in ms. */
export const DEFAULT_TTL = 30_000;

/** Default time `acquire` waits for a busy lock, in ms. */
export const DEFAULT_WAIT_TIMEOUT = 10_000;

/** Default time one store command may take before it counts as unanswered, in ms. */
export const DEFAULT_COMMAND_TIMEOUT = 2_000;

/** Default time `app.close()` waits for the work still running under this app's locks, in ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/** Shortest lease accepted, in ms: anything shorter expires before a round trip to Redis returns. */
export const MIN_TTL = 10;

/** Longest key accepted, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** How long a key's fencing counter outlives its last acquisition, in ms (see docs/guarantees.md, "Fencing tokens"). */
export const FENCE_RETENTION = 7 * 24 * 60 * 60 * 1000;

/** `@nestjs/schedule`'s metadata key for `@Cron` options, read by name (that package is an optional peer). */
export const SCHEDULE_CRON_METADATA = 'SCHEDULE_CRON_OPTIONS';

/** `@nestjs/schedule`'s metadata key for `@Interval` options, read by name. */
export const SCHEDULE_INTERVAL_METADATA = 'SCHEDULE_INTERVAL_OPTIONS';

/** `@nestjs/common`'s metadata key marking an `@Sse()` handler, read by name (its `constants` module is no public entry point). */
export const NEST_SSE_METADATA = '__sse__';

/**
 * The default `minHold` of a `@Cron` / `@Interval` method with `onBusy: 'skip'`, as a share of the shortest time
 * between its ticks: long enough that instances firing the same tick a little later skip it, short enough that
 * the next tick finds the lock free.
 */
export const SCHEDULED_MIN_HOLD_SHARE = 0.8;

/**
 * Fencing tokens a single-key grant reserves: the first for the holder, the others for callers of the same process
 * the lock is passed to without a round trip to Redis (see `cohort`), so at most this many minus one passes.
 * Small enough that tokens keep tracking the server clock in us below about 15,000 grants per second of one key.
 */
export const FENCE_BLOCK = 64;

/**
 * Shortest time, in ms, a waiter's place in a key's Redis queue lasts without the waiter asking again (its ttl, if
 * longer): a waiter that died gives up its place within that, and a live one asks again before half of it is gone.
 */
export const MIN_WAITER_PLACE = 2_000;

/** Default of the `starvation` option: see docs/waiting.md, "Bounded barging". */
export const DEFAULT_STARVATION = 0;

/** Default of the `cohort` option: how long and how often a lock is passed between callers of one process. */
export const DEFAULT_COHORT = { passes: 16, duration: 25, linger: 2 } as const;

/** Metadata key under which `@UseLock` records its key and options on a controller class or handler. */
export const USE_LOCK_METADATA = 'lock:use-lock';

/** Metadata key under which `@LeaderOnly` records its election on the decorated method. */
export const LEADER_ONLY_METADATA = 'lock:leader-only';

/** What the lock key of the election `name` starts with, so that `@LeaderOnly('x')` and `@Locked('x')` never meet. */
export const LEADER_KEY_PREFIX = 'leader:';

/**
 * Default lease of a leadership term, in ms (client-go's LeaseDuration): a leader that dies without resigning is
 * succeeded within it; a leader whose event loop stalls for up to about two thirds of it (the renewal runs at a
 * third) keeps its term. See docs/leader-election.md.
 */
export const DEFAULT_LEADER_TTL = 15_000;

/**
 * Default length of one round of a campaign, in ms (client-go's RetryPeriod): a follower waits in the key's queue
 * (woken at once by a release) for this long, then leaves and queues again, and learns who leads now. A follower
 * that dies while queued can hold up a hand-over by at most two rounds.
 */
export const DEFAULT_LEADER_RETRY = 2_000;
/** What a client is told when a lock stays busy (the 409's message), unless `errorMessage` says otherwise. */
export const DEFAULT_BUSY_ANSWER = 'The resource is busy; try again later.';

import type { LockModuleOptions } from '../../lib';

// What the stress runner and its workers say to each other.

/** A worker's settings, passed as its first argument (JSON). */
export interface WorkerConfig {
  id: string;
  /** One Redis URL, or several for the quorum mode. */
  redis: string | string[];
  prefix: string;
  checkerUrl: string;
  checkerPrefix: string;
  /** Concurrent loops in the worker. */
  loops: number;
  /** How many lock keys the loops pick from. */
  keys: number;
  /** Also take semaphore permits (keys `s0`, `s1`, limit 2) and read or write locks (key `d0`). */
  shares: boolean;
  commandTimeout: number;
  seed: number;
  /** Fairness settings of the workers' LockModule. */
  settings: Pick<LockModuleOptions, 'cohort' | 'starvation'>;
}

/** What a stress run exercises: random locks (every primitive), or leader election for one name. */
export type StressMode = 'locks' | 'leader';

/** A message from a worker. */
export type StressReport =
  | { type: 'ready' | 'stopped'; worker: string }
  | { type: 'violation'; what: string }
  /** The worker closes its app (asked to by the runner), with `inside` of its `using()` sections inside the referee's. */
  | { type: 'shutdown'; worker: string; inside: number }
  /** Leader mode: a term began (epoch ms when `changes` said so). */
  | { type: 'elected'; worker: string; term: number; at: number }
  /** Leader mode: a term ended (epoch ms when the `term-ended` event came, before the lock was given back). */
  | { type: 'term-ended'; worker: string; term: number; at: number; reason: 'resigned' | 'lost' }
  | {
      type: 'acquisition';
      holder: string;
      worker: string;
      /** Epoch ms when the call began. */
      started: number;
      /** ms until the call had the lock or gave up. */
      waited?: number;
      /** The longest the wait may last: its waitTimeout, or when its signal aborts (0 for tryAcquire). */
      bound: number;
      /** ms of the wait during which the worker's event loop did not run (2 cores shared with processes starting). */
      stalled: number;
      /** The fencing token, if it got the lock. */
      fence?: number;
      /** It got the lock and its release found it still its own (nobody took it over). */
      clean?: boolean;
    };

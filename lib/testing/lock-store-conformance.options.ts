import type { LockStore, LockStoreAcquireResult } from '../interfaces/index.js';
import type { TestFramework } from './test-framework.js';

/** A fresh store for one test, and how to free it afterwards. */
export interface StoreUnderTest {
  /** The store, with nothing held (its own namespace, or a fresh instance). */
  store: LockStore;
  /** Frees what the store uses. @default `store.close()` */
  dispose?: () => Promise<void>;
}

/** Makes a fresh store for each test; `starvation` is the bounded-barging bound the store must apply (0 if absent). */
export type StoreFactory = (options?: { starvation?: number }) => Promise<StoreUnderTest> | StoreUnderTest;

/** What the store offers beyond exclusive locks, and which test runner to register with. */
export interface LockStoreConformanceOptions {
  /**
   * Waiters queue in the store: FIFO hand-off to the head on release, and bounded barging (`starvation`). A store
   * without queues (waiters re-check when a lease ends) skips those tests.
   * @default true
   */
  queues?: boolean;
  /**
   * The store takes shared holds (`shares: true`): semaphores and read-write locks.
   * @default true
   */
  shares?: boolean;
  /** The test functions to register with. @default the runner's globals (Jest, Vitest with `globals: true`, Mocha) */
  framework?: TestFramework;
}

/**
 * The fencing token of an attempt that must have succeeded.
 * @param result the store's answer
 * @internal
 */
export function fenceOf(result: LockStoreAcquireResult): number {
  if (!result.acquired) {
    throw new Error('expected the store to grant the lock, but it refused');
  }
  return result.fencingToken;
}

/**
 * Registers the store's set-up and tear-down around each test of the current group.
 * @param framework the test functions
 * @param create the factory
 * @param options passed to it
 * @returns the current test's store
 * @internal
 */
export function useStoreUnderTest(framework: TestFramework, create: StoreFactory, options: { starvation?: number } = {}): () => LockStore {
  let current: StoreUnderTest | undefined;
  framework.beforeEach(async () => {
    current = await create(options);
  });
  framework.afterEach(async () => {
    await (current?.dispose ? current.dispose() : current?.store.close?.());
    current = undefined;
  });
  return () => {
    if (!current) {
      throw new Error('the store factory has not run');
    }
    return current.store;
  };
}

import { describeSharedLockStoreConformance as describeShares } from '../../lib/testing/lock-store-shares.conformance';
import type { StoreFactory } from '../../lib/testing';

/**
 * Only the semaphore and read-write lock part of the published conformance suite, for a spec whose store runs the
 * rest elsewhere (the Cluster).
 * @param name the store's name
 * @param create makes a fresh store for each test
 */
export function describeSharedLockStoreConformance(name: string, create: StoreFactory): void {
  describeShares(name, create, { describe, it, beforeEach, afterEach });
}

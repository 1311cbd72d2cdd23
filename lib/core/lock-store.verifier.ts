import { LockError, LockStoreUnavailableError } from '../errors/index.js';
import type { LockStore } from '../interfaces/index.js';
import { describeConnection, type ResolvedLockModuleOptions } from '../options/lock-module-options.resolver.js';

/**
 * The start-up check of `verifyConnection`: the store must answer a PING. If it does not, a store the module made is
 * closed (no client goes on reconnecting, so a process whose start failed can exit), and the start fails with a
 * `LockStoreUnavailableError` that says where the store is and names the cause once.
 * @param store the module's store
 * @param options the module options: where the store is, and whether the module made it
 */
export async function verifyLockStore(
  store: LockStore,
  options: Pick<ResolvedLockModuleOptions, 'store' | 'redis' | 'ownsStore'>,
): Promise<void> {
  try {
    await store.ping?.();
  } catch (error) {
    if (options.ownsStore) {
      await store.close?.().catch(() => undefined);
    }
    // The store's own error says "could not ping"; the cause under it is what the start failure names.
    const cause = error instanceof LockError && error.cause !== undefined ? error.cause : error;
    throw new LockStoreUnavailableError(
      `reach the lock store (${describeConnection(options)}) at app start (verifyConnection is on)`,
      cause,
    );
  }
}

import { MemoryLockStore } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';

describeLockStoreConformance('MemoryLockStore', async (options) => {
  const store = new MemoryLockStore(options);
  return { store, dispose: () => store.close() };
});

import { MemoryLockStore } from '../../lib';
import { describeLockStoreConformance } from '../support/lock-store.conformance';

describeLockStoreConformance('MemoryLockStore', async () => {
  const store = new MemoryLockStore();
  return { store, dispose: () => store.close() };
});

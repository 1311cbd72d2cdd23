export { LockTestingModule, type LockTestingModuleOptions } from './lock-testing.module.js';
export { LockFaults } from './lock-faults.service.js';
export { describeLockStoreConformance } from './lock-store.conformance.js';
export type { LockStoreConformanceOptions, StoreFactory, StoreUnderTest } from './lock-store-conformance.options.js';
export type { TestFramework } from './test-framework.js';

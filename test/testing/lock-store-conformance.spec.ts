import { describeLockStoreConformance, type TestFramework } from '../../lib/testing';
import { LockFaultsStore } from '../../lib/testing/lock-faults.store';

// The store behind LockFaults, with no fault on, behaves as every store must.
describeLockStoreConformance('LockTestingModule’s store', (options) => ({ store: new LockFaultsStore(options) }));

describe('describeLockStoreConformance', () => {
  it('registers its tests with the framework it is given (node:test, for instance)', async () => {
    const names: string[] = [];
    const tests: Array<() => Promise<void>> = [];
    const framework: TestFramework = {
      describe: (name, body) => {
        names.push(name);
        body();
      },
      it: (name, test) => {
        names.push(name);
        tests.push(test);
      },
      beforeEach: () => undefined,
      afterEach: () => undefined,
    };
    describeLockStoreConformance('Custom', () => ({ store: new LockFaultsStore() }), { framework, queues: false, shares: false });
    expect(names).toContain('Custom conformance');
    expect(names).toContain('releases only for the owning token');
    expect(names).not.toContain('Custom bounded barging (starvation bound 300 ms)');
    expect(names.some((name) => name.includes('semaphores'))).toBe(false);
    expect(tests.length).toBeGreaterThan(10);
  });

  it('says what it needs when there is no test runner’s global and no framework is given', () => {
    const partial = { describe: () => undefined, it: () => undefined } as unknown as TestFramework;
    expect(() => describeLockStoreConformance('Custom', () => ({ store: new LockFaultsStore() }), { framework: partial })).toThrow(
      /registers its tests with describe, it, beforeEach and afterEach, but beforeEach, afterEach are missing: .*node:test/,
    );
  });
});

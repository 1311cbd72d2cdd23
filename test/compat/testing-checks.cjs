// nest-lock/testing as a user's tests use it: LockTestingModule and LockFaults in an app, and the store conformance
// suite, registered with a minimal runner of its own, on the memory store.
const { check } = require('./checks.cjs');

/** Registers tests as Jest would (groups with their own beforeEach / afterEach), then runs them in order. */
function miniRunner() {
  const root = { before: [], after: [], parent: undefined };
  let group = root;
  const tests = [];
  const framework = {
    describe: (name, body) => {
      const outer = group;
      group = { before: [], after: [], parent: outer };
      body();
      group = outer;
    },
    it: (name, test) => tests.push({ name, test, group }),
    beforeEach: (hook) => group.before.push(hook),
    afterEach: (hook) => group.after.push(hook),
  };
  const chain = (start) => {
    const groups = [];
    for (let current = start; current; current = current.parent) groups.unshift(current);
    return groups;
  };
  const run = async () => {
    const failed = [];
    for (const { name, test, group: owner } of tests) {
      const groups = chain(owner);
      try {
        for (const hook of groups.flatMap((g) => g.before)) await hook();
        await test();
      } catch (error) {
        failed.push(`${name}: ${error.message}`);
      } finally {
        for (const hook of groups.reverse().flatMap((g) => g.after)) await hook();
      }
    }
    return { count: tests.length, failed };
  };
  return { framework, run };
}

async function runTestingChecks({ common, core, nestLock, testing }) {
  const { LockService, LockNotAcquiredError, LockLostError, LockStoreUnavailableError, MemoryLockStore } = nestLock;
  const { LockTestingModule, LockFaults, describeLockStoreConformance } = testing;

  class TestedModule {}
  common.Module({ imports: [LockTestingModule.forRoot()] })(TestedModule);
  const app = await core.NestFactory.createApplicationContext(TestedModule, { logger: false });
  const locks = app.get(LockService);
  const faults = app.get(LockFaults);
  faults.busy(/^order:/);
  const busy = await locks.acquire('order:1', { waitTimeout: 0 }).catch((error) => error);
  check(busy instanceof LockNotAcquiredError, 'nest-lock/testing: LockFaults.busy() makes a key busy (LockNotAcquiredError of nest-lock)');
  faults.clear();
  faults.unavailable();
  const down = await locks.acquire('order:1', { waitTimeout: 0 }).catch((error) => error);
  check(down instanceof LockStoreUnavailableError, 'nest-lock/testing: LockFaults.unavailable() fails the store');
  faults.unavailable(false);
  const lock = await locks.acquire('order:1');
  await faults.lose('order:1');
  check(lock.signal.reason instanceof LockLostError && !lock.isHeld, 'nest-lock/testing: LockFaults.lose() makes a held lock lost');
  await app.close();

  const { framework, run } = miniRunner();
  describeLockStoreConformance('MemoryLockStore', (options) => ({ store: new MemoryLockStore(options) }), { framework });
  const { count, failed } = await run();
  check(
    count > 30 && failed.length === 0,
    `nest-lock/testing: the store conformance suite passes on MemoryLockStore (${count} tests)${failed.length ? `; failed: ${failed.join('; ')}` : ''}`,
  );
}

module.exports = { runTestingChecks };

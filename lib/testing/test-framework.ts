/**
 * The functions a test suite of nest-lock registers its tests with: the globals of Jest, Vitest (`globals: true`) and
 * Mocha, or those `node:test` exports.
 */
export interface TestFramework {
  /** Groups tests. */
  describe(name: string, body: () => void): unknown;
  /** One test. */
  it(name: string, test: () => Promise<void>): unknown;
  /** Runs before each test of the group. */
  beforeEach(hook: () => Promise<void>): unknown;
  /** Runs after each test of the group. */
  afterEach(hook: () => Promise<void>): unknown;
}

/**
 * The framework given, else the test runner's globals.
 * @param given the `framework` option
 * @param suite the suite's name, for the error
 * @throws Error if neither is there
 */
export function resolveTestFramework(given: TestFramework | undefined, suite: string): TestFramework {
  // The runner's globals are not in the library's types (which know no test runner): checked here instead.
  const framework: unknown = given ?? globalThis;
  const missing = ['describe', 'it', 'beforeEach', 'afterEach'].filter(
    (name) => typeof (framework as Record<string, unknown>)[name] !== 'function',
  );
  if (missing.length > 0) {
    throw new Error(
      `${suite} registers its tests with describe, it, beforeEach and afterEach, but ${missing.join(', ')} ` +
        `${missing.length === 1 ? 'is' : 'are'} missing: run it under Jest, Vitest (globals: true) or Mocha, or pass ` +
        `{ framework: { describe, it, beforeEach, afterEach } } (from node:test, for instance).`,
    );
  }
  return framework as TestFramework;
}

import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The Redis the tests use: `REDIS_URL`, or the local one. The local one is named `localhost`, not the library's
 * default `127.0.0.1`, so that test/support/redis-guard.ts can tell a spec that forgot this address from one that
 * used it.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://localhost:6379';

/** A prefix no other test shares, so test files can run against one Redis without seeing each other. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** A client of the test Redis; close it with `client.quit()`. */
export function redisClient(options: RedisOptions = {}): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1, ...options });
}

/** Every key under `prefix`, found with SCAN. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Deletes every key under `prefix`. */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) {
    await client.del(...keys);
  }
}

/** A port nothing listens on, for "Redis unreachable" cases. */
export const DEAD_REDIS_URL = 'redis://127.0.0.1:1';

/** A client of the test Redis and a fresh key prefix per test, cleaned up after each test. */
export interface TestRedis {
  readonly redis: Redis;
  readonly prefix: string;
}

/**
 * Registers jest hooks that give every test of the file a client and its own prefix, and delete the prefix's
 * keys afterwards.
 * @param name part of the prefix, to tell files apart
 */
export function useTestRedis(name: string): TestRedis {
  const state: { redis?: Redis; prefix?: string } = {};
  beforeAll(() => {
    state.redis = redisClient();
  });
  beforeEach(() => {
    state.prefix = uniquePrefix(name);
  });
  afterEach(async () => {
    await deleteKeysUnder(state.redis as Redis, state.prefix as string);
  });
  afterAll(async () => {
    await state.redis?.quit();
  });
  return {
    get redis() {
      return state.redis as Redis;
    },
    get prefix() {
      return state.prefix as string;
    },
  };
}

/**
 * Polls a condition every 5 ms, up to 1 s: for waiting on effects that have no event to wait for.
 * @param condition resolves true when done
 */
export async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await condition()); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Polls a condition every 100 ms until it holds (a condition that throws counts as not yet), and fails the test
 * with `what` if it does not hold in time: for slow effects such as a failover.
 * @param condition true when done
 * @param what the awaited state, for the error message
 * @param timeout ms
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (
    !(await Promise.resolve()
      .then(condition)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

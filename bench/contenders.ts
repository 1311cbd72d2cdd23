// The lock libraries compared, behind one small interface, each with its own recommended settings; nest-lock once per
// kind of caller (the service's acquire/release, a @Locked method; each with its watchdog, the default, and without).
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import Redlock from 'redlock';
import { createLock, IoredisAdapter } from 'redlock-universal';
import { Mutex, Semaphore } from 'redis-semaphore';
import { Locked, LockModule, LockService, type LockModuleOptions } from '../lib';
import { excludeFromCount } from './command-counter';

/** What a benchmark acquisition asks for: a permit of a semaphore of `limit`, or a read lock. */
export interface AcquireShape {
  limit?: number;
  mode?: 'read' | 'write';
}

/** The nest-lock callers measured: `lockService.acquire()` + `release()`, and a `@Locked` method; each with and without the watchdog. */
export const NEST_LOCK_KINDS = [
  'nest-lock',
  'nest-lock autoExtend:false',
  'nest-lock @Locked',
  'nest-lock @Locked autoExtend:false',
] as const;

/** The other libraries, each as its README uses it. */
export const PEERS = ['redlock', 'redis-semaphore', 'redlock-universal'] as const;

export type NestLockKind = (typeof NEST_LOCK_KINDS)[number];
export type PeerName = (typeof PEERS)[number];
export type ContenderName = NestLockKind | PeerName | 'ideal';

/** One lock implementation (or one kind of nest-lock caller) as the benchmark drives it. */
export interface Contender {
  readonly name: ContenderName;
  /**
   * Takes `key`, waiting as the library does by default, runs `section` while holding it, and releases it.
   * @param shape a semaphore's permit or a read lock, for the contenders that have them
   */
  run<T>(key: string, section: () => Promise<T>, shape?: AcquireShape): Promise<T>;
  close(): Promise<void>;
}

/** Whether the contender is one of nest-lock's callers. */
export function isNestLock(name: string): name is NestLockKind {
  return (NEST_LOCK_KINDS as readonly string[]).includes(name);
}

/** Whether the contender is another library. */
export function isPeer(name: string): name is PeerName {
  return (PEERS as readonly string[]).includes(name);
}

const TTL = 10_000;

/**
 * Creates a contender with its own Redis connection.
 * @param name which library
 * @param url the Redis to use
 * @param uncounted leave its commands out of the count (a holder whose commands are not what is measured)
 */
export async function createContender(name: ContenderName, url: string, uncounted = false): Promise<Contender> {
  const client = new Redis(url);
  if (uncounted) {
    excludeFromCount(client);
  }
  switch (name) {
    case 'nest-lock':
    case 'nest-lock autoExtend:false':
    case 'nest-lock @Locked':
    case 'nest-lock @Locked autoExtend:false':
      return nestLock(name, client);
    case 'redlock':
      return redlock(client);
    case 'redis-semaphore':
      return redisSemaphore(client);
    case 'redlock-universal':
      return redlockUniversal(client);
    case 'ideal':
      return ideal(client);
  }
}

/**
 * Holds `key` until the returned function is called (for holders that stay in while others wait).
 * @returns once it is held: the function that releases it and resolves once released
 */
export function hold(contender: Contender, key: string, shape?: AcquireShape): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    let leave = (): void => undefined;
    const left = new Promise<void>((done) => (leave = done));
    const held = contender.run(
      key,
      async () => {
        resolve(async () => {
          leave();
          await held;
        });
        await left;
      },
      shape,
    );
    held.catch(reject);
  });
}

/** The `@Locked` callers: a method whose first argument is the key, with and without the watchdog. */
@Injectable()
class LockedCallers {
  @Locked((key: string) => key)
  async watched(_key: string, section: () => Promise<unknown>): Promise<unknown> {
    return section();
  }

  @Locked((key: string) => key, { autoExtend: false })
  async unwatched(_key: string, section: () => Promise<unknown>): Promise<unknown> {
    return section();
  }
}

async function nestLock(name: NestLockKind, client: Redis): Promise<Contender> {
  @Module({
    imports: [LockModule.forRoot({ redis: client, logger: false, ttl: TTL, waitTimeout: 60_000, ...tuning() })],
    providers: [LockedCallers],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const locks = app.get(LockService);
  const callers = app.get(LockedCallers);
  const autoExtend = !name.endsWith('autoExtend:false');
  const viaService = async <T>(key: string, section: () => Promise<T>, shape?: AcquireShape): Promise<T> => {
    const lock = await locks.acquire(key, { ...shape, autoExtend });
    try {
      return await section();
    } finally {
      await lock.release();
    }
  };
  const viaDecorator = async <T>(key: string, section: () => Promise<T>, shape?: AcquireShape): Promise<T> => {
    if (shape?.limit !== undefined || shape?.mode !== undefined) {
      throw new Error(`${name}: the benchmark's @Locked methods take a mutex only`);
    }
    return (await (autoExtend ? callers.watched(key, section) : callers.unwatched(key, section))) as T;
  };
  return {
    name,
    run: name.includes('@Locked') ? viaDecorator : viaService,
    close: async () => {
      await app.close();
      await client.quit();
    },
  };
}

/** Runs `section` after `acquire`, and releases whatever happens. */
async function holding<T>(acquire: () => Promise<() => Promise<unknown>>, section: () => Promise<T>): Promise<T> {
  const release = await acquire();
  try {
    return await section();
  } finally {
    await release();
  }
}

function redlock(client: Redis): Contender {
  // Defaults of redlock 5 (retryDelay 200 ms, jitter 200 ms), but retrying until it gets the lock, as the
  // other contenders do, instead of failing after 10 attempts.
  const instance = new Redlock([client], { retryCount: -1 });
  instance.on('error', () => undefined);
  return {
    name: 'redlock',
    run: (key, section) =>
      holding(async () => {
        const lock = await instance.acquire([key], TTL);
        return () => lock.release();
      }, section),
    close: async () => {
      await client.quit();
    },
  };
}

function redisSemaphore(client: Redis): Contender {
  return {
    name: 'redis-semaphore',
    run: (key, section, shape) =>
      holding(async () => {
        if (shape?.mode === 'read') {
          throw new Error('redis-semaphore has no read-write lock');
        }
        // One Mutex (or Semaphore) per acquisition, as its README does. Its defaults: retryInterval 10 ms, refresh at
        // 80% of the lease.
        const options = { lockTimeout: TTL, acquireTimeout: 60_000 };
        const lock = shape?.limit ? new Semaphore(client, key, shape.limit, options) : new Mutex(client, key, options);
        await lock.acquire();
        return () => lock.release();
      }, section),
    close: async () => {
      await client.quit();
    },
  };
}

function redlockUniversal(client: Redis): Contender {
  const adapter = new IoredisAdapter(client);
  return {
    name: 'redlock-universal',
    run: (key, section, shape) =>
      holding(async () => {
        if (shape?.limit !== undefined || shape?.mode !== undefined) {
          throw new Error('redlock-universal has no semaphore nor read-write lock');
        }
        // Its 'lean' mode (a SET NX PX, a compare-and-delete script) with its defaults (retryDelay 100 ms), but
        // retrying until it gets the lock instead of failing after 3 retries; one lock object per acquisition, as
        // its README does.
        const lock = createLock({ adapter, key, ttl: TTL, performance: 'lean', retryAttempts: Number.MAX_SAFE_INTEGER });
        const handle = await lock.acquire();
        return () => lock.release(handle);
      }, section),
    close: async () => {
      await client.quit();
    },
  };
}

/**
 * nest-lock's fairness settings for a tuning run: BENCH_STARVATION (ms), BENCH_COHORT_PASSES,
 * BENCH_COHORT_DURATION and BENCH_COHORT_LINGER (ms), or BENCH_COHORT=off. Unset, the library's defaults are measured.
 */
function tuning(): Pick<LockModuleOptions, 'starvation' | 'cohort'> {
  const env = process.env;
  const passes = env.BENCH_COHORT_PASSES === undefined ? undefined : Number(env.BENCH_COHORT_PASSES);
  const duration = env.BENCH_COHORT_DURATION === undefined ? undefined : Number(env.BENCH_COHORT_DURATION);
  const linger = env.BENCH_COHORT_LINGER === undefined ? undefined : Number(env.BENCH_COHORT_LINGER);
  return {
    ...(env.BENCH_STARVATION === undefined ? {} : { starvation: Number(env.BENCH_STARVATION) }),
    ...(env.BENCH_COHORT === 'off'
      ? { cohort: false }
      : passes !== undefined || duration !== undefined || linger !== undefined
        ? { cohort: { passes, duration, linger } }
        : {}),
  };
}

const COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

async function ideal(client: Redis): Promise<Contender> {
  const sha = (await client.script('LOAD', COMPARE_AND_DELETE)) as string;
  return {
    name: 'ideal',
    run: (key, section) =>
      holding(async () => {
        const token = randomBytes(16).toString('base64url');
        if ((await client.set(key, token, 'PX', TTL, 'NX')) !== 'OK') {
          throw new Error('the ideal contender does not wait: use it uncontended only');
        }
        return () => client.evalsha(sha, 1, key, token);
      }, section),
    close: async () => {
      await client.quit();
    },
  };
}

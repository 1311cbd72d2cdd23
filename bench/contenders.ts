// The lock libraries compared, behind one small interface, each with its own recommended settings.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import Redlock from 'redlock';
import { Mutex, Semaphore } from 'redis-semaphore';
import { LockModule, LockService, type LockModuleOptions } from '../lib';
import { excludeFromCount } from './command-counter';

/** What a benchmark acquisition asks for: a permit of a semaphore of `limit`, or a read lock. */
export interface AcquireShape {
  limit?: number;
  mode?: 'read' | 'write';
}

/** One lock implementation as the benchmark drives it. */
export interface Contender {
  readonly name: ContenderName;
  /**
   * Acquires `key`, waiting as the library does by default, and returns its release function.
   * @param shape a semaphore's permit or a read lock, for the contenders that have them
   */
  acquire(key: string, shape?: AcquireShape): Promise<() => Promise<unknown>>;
  close(): Promise<void>;
}

export type ContenderName = 'nest-lock' | 'redlock' | 'redis-semaphore' | 'ideal';

export const PEERS: readonly ContenderName[] = ['redlock', 'redis-semaphore'];

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
      return nestLock(client);
    case 'redlock':
      return redlock(client);
    case 'redis-semaphore':
      return redisSemaphore(client);
    case 'ideal':
      return ideal(client);
  }
}

async function nestLock(client: Redis): Promise<Contender> {
  @Module({ imports: [LockModule.forRoot({ redis: client, logger: false, ttl: TTL, waitTimeout: 60_000, ...tuning() })] })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const locks = app.get(LockService);
  return {
    name: 'nest-lock',
    acquire: async (key, shape) => {
      const lock = await locks.acquire(key, shape);
      return () => lock.release();
    },
    close: async () => {
      await app.close();
      await client.quit();
    },
  };
}

function redlock(client: Redis): Contender {
  // Defaults of redlock 5 (retryDelay 200 ms, jitter 200 ms), but retrying until it gets the lock, as the
  // other contenders do, instead of failing after 10 attempts.
  const instance = new Redlock([client], { retryCount: -1 });
  instance.on('error', () => undefined);
  return {
    name: 'redlock',
    acquire: async (key) => {
      const lock = await instance.acquire([key], TTL);
      return () => lock.release();
    },
    close: async () => {
      await client.quit();
    },
  };
}

function redisSemaphore(client: Redis): Contender {
  return {
    name: 'redis-semaphore',
    acquire: async (key, shape) => {
      if (shape?.mode === 'read') {
        throw new Error('redis-semaphore has no read-write lock');
      }
      // One Mutex (or Semaphore) per acquisition, as its README does. Its defaults: retryInterval 10 ms, refresh at
      // 80% of the lease.
      const options = { lockTimeout: TTL, acquireTimeout: 60_000 };
      const lock = shape?.limit ? new Semaphore(client, key, shape.limit, options) : new Mutex(client, key, options);
      await lock.acquire();
      return () => lock.release();
    },
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
    acquire: async (key) => {
      const token = randomBytes(16).toString('base64url');
      if ((await client.set(key, token, 'PX', TTL, 'NX')) !== 'OK') {
        throw new Error('the ideal contender does not wait: use it uncontended only');
      }
      return () => client.evalsha(sha, 1, key, token);
    },
    close: async () => {
      await client.quit();
    },
  };
}

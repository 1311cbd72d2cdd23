import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { InvalidLockOptionsError, Locked, LockModule, LockService, type LockModuleOptions } from '../../lib';
import { keysUnder } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';

@Injectable()
class Orders {
  ran = 0;

  @Locked('order:{0}')
  async byTemplate(_id: unknown): Promise<void> {
    this.ran += 1;
  }

  @Locked('user:{0.user.id}')
  async byPath(_dto: unknown): Promise<void> {
    this.ran += 1;
  }

  @Locked((id: unknown) => id as string)
  async byFunction(_id: unknown): Promise<void> {
    this.ran += 1;
  }
}

// Every bad input gets a typed error naming what was wrong, and leaves no key of ours in Redis.
describe('bad input', () => {
  let server: RedisServer;
  let redis: Redis;
  let locks: LockService;
  let orders: Orders;
  let close: () => Promise<void>;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: server.url, logger: false })],
      providers: [Orders],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    locks = app.get(LockService);
    orders = app.get(Orders);
    close = () => app.close();
  });

  afterEach(async () => {
    expect(await keysUnder(redis, 'lock:')).toEqual([]);
    expect(orders.ran).toBe(0);
  });

  afterAll(async () => {
    await close();
    await redis.quit();
    await server.stop();
  });

  const keys: Array<[string, unknown, RegExp]> = [
    ['an empty key', '', /empty/],
    ['a whitespace key', ' \t\n', /blank/],
    ['a number', 7, /must be a string, got number 7/],
    ['null', null, /got null/],
    ['undefined', undefined, /got undefined/],
    ['an object', { id: 1 }, /got an object/],
    ['a symbol', Symbol('k'), /got a symbol/],
    ['a function', () => 'k', /got a function/],
    ['a 10 kB key', 'k'.repeat(10_240), /10240 bytes/],
    ['an empty array', [], /at least one key/],
    ['an array holding a number', ['ok', 1], /key\[1\] must be a string/],
  ];
  it.each(keys)('LockService refuses %s', async (_, key, message) => {
    for (const call of [
      () => locks.acquire(key as string),
      () => locks.tryAcquire(key as string),
      () => locks.using(key as string, () => undefined),
      () => locks.isLocked(key as string),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidLockOptionsError);
      expect((error as Error).message).toMatch(message);
    }
  });

  const options: Array<[string, object, RegExp]> = [
    ['NaN ttl', { ttl: Number.NaN }, /ttl.*NaN/],
    ['Infinity ttl', { ttl: Number.POSITIVE_INFINITY }, /ttl.*Infinity/],
    ['negative ttl', { ttl: -5 }, /ttl.*-5/],
    ['fractional ttl', { ttl: 100.5 }, /ttl.*100.5/],
    ['ttl under 10 ms', { ttl: 9 }, /ttl must be a whole number of ms from 10 to/],
    ['waitTimeout -1', { waitTimeout: -1 }, /waitTimeout.*-1/],
    ['string waitTimeout', { waitTimeout: '5' }, /waitTimeout/],
    ['autoExtend as a string', { autoExtend: 'true' }, /autoExtend/],
    ['a signal that is not an AbortSignal', { signal: {} }, /signal must be an AbortSignal/],
    ['an unknown option', { timeout: 5 }, /unknown option\(s\) "timeout"/],
    ['limit 0', { limit: 0 }, /limit must be a whole number from 1 to 9007199254740991.*got number 0/],
    ['Infinity limit', { limit: Number.POSITIVE_INFINITY }, /limit must be a whole number.*got number Infinity/],
    ['a string limit (from an environment variable)', { limit: '3' }, /limit must be a whole number.*got "3"/],
    ['fractional limit', { limit: 2.5 }, /limit.*got number 2.5/],
    ["mode 'shared'", { mode: 'shared' }, /mode must be 'read' or 'write', got "shared"/],
    ['limit with mode read', { mode: 'read', limit: 2 }, /limit cannot be combined with mode 'read'/],
  ];
  it.each(options)('LockService refuses %s', async (_, given, message) => {
    const error = await locks.acquire('k', given).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses options that are not an object', async () => {
    await expect(locks.acquire('k', 5 as unknown as object)).rejects.toThrow(/lock options must be an object, got number 5/);
  });

  const args: Array<[string, () => Promise<void>, RegExp]> = [
    ['undefined placeholder', () => orders.byTemplate(undefined), /Orders\.byTemplate: placeholder \{0\} is undefined/],
    ['object placeholder', () => orders.byTemplate({ id: 1 }), /placeholder \{0\} is an object/],
    ['NaN placeholder', () => orders.byTemplate(Number.NaN), /placeholder \{0\} is number NaN/],
    ['missing nested field', () => orders.byPath({ user: {} }), /Orders\.byPath: placeholder \{0\.user\.id\} is undefined/],
    ['null parent of a nested field', () => orders.byPath(null), /placeholder \{0\.user\.id\} is undefined/],
    [
      'key function returning undefined',
      () => orders.byFunction(undefined),
      /Orders\.byFunction: the key function's result must be a string/,
    ],
    ['key function returning an object', () => orders.byFunction({}), /the key function's result must be a string, got an object/],
  ];
  it.each(args)('@Locked refuses a key from a %s, without running the method', async (_, call, message) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(message);
  });

  const moduleOptions: Array<[string, object, RegExp]> = [
    ['a prefix with braces (it would clash with the hash tag)', { prefix: '{app}:lock:' }, /prefix must be .* without \{ or \}/],
    ['an empty prefix', { prefix: '' }, /prefix/],
    ['an unknown store', { store: 'mongo' }, /store must be 'redis', 'memory'/],
    ['a store object missing methods', { store: { acquire: () => undefined } }, /implementing LockStore/],
    ['a zero commandTimeout', { commandTimeout: 0 }, /commandTimeout/],
    ['a negative shutdownTimeout', { shutdownTimeout: -1 }, /shutdownTimeout must be a whole number of ms from 0/],
    ['a shutdownTimeout in seconds as a string', { shutdownTimeout: '10s' }, /shutdownTimeout must be .*, got "10s"/],
    ['an endless shutdownTimeout', { shutdownTimeout: Number.POSITIVE_INFINITY }, /shutdownTimeout must be a whole number/],
    ['a ttl read from an environment variable (a numeric string)', { ttl: '30000' }, /ttl must be a whole number of ms .*, got "30000"/],
    ['a logger that is not a LoggerService', { logger: 'console' }, /logger must be false or a LoggerService/],
    ['an unknown module option', { ttlMs: 5 }, /unknown option\(s\) "ttlMs"/],
    ['replicas with a zero count', { replicas: { count: 0, timeoutMs: 100 } }, /replicas must be \{ count, timeoutMs \}/],
    ['replicas without a timeout', { replicas: { count: 1 } }, /replicas must be/],
  ];
  it.each(moduleOptions)('LockModule refuses %s', (_, given, message) => {
    expect(() => LockModule.forRoot(given as LockModuleOptions)).toThrow(InvalidLockOptionsError);
    expect(() => LockModule.forRoot(given as LockModuleOptions)).toThrow(message);
  });
});

import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidLockOptionsError, Lock, Locked, LockError, LockModule, LockNotAcquiredError, LockService } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

interface Dto {
  user?: { id?: unknown };
}

const calls: string[] = [];

@Injectable()
class Orders {
  constructor(readonly locks: LockService) {}

  @Locked('order:{0}', { waitTimeout: 0 })
  async confirm(id: unknown): Promise<string | undefined> {
    calls.push(`confirm:${String(id)}`);
    return this.locks.current()?.keys[0];
  }

  @Locked('user:{1.user.id}', { waitTimeout: 0 })
  async byUser(_tag: string, _dto: Dto): Promise<string | undefined> {
    return this.locks.current()?.keys[0];
  }

  @Locked((id: string, region: string) => `order:${region}:${id}`)
  async byFunction(_id: string, _region: string): Promise<string | undefined> {
    return this.locks.current()?.keys[0];
  }

  @Locked(['stock:{0}', (_sku: string, warehouse: string) => `warehouse:${warehouse}`])
  async multi(_sku: string, _warehouse: string): Promise<readonly string[] | undefined> {
    return this.locks.current()?.keys;
  }

  @Locked((ids: string[]) => ids.map((id) => `item:${id}`))
  async many(ids: string[]): Promise<boolean[]> {
    return Promise.all(ids.map((id) => this.locks.isLocked(`item:${id}`)));
  }

  @Locked('outer')
  async outer(): Promise<{ inner: number; fencing: number | undefined; viaUsing: number }> {
    const lock = this.locks.current('outer');
    const inner = await this.inner();
    const viaUsing = await this.locks.using('outer', (reentered) => reentered.fencingToken);
    return { inner, fencing: lock?.fencingToken, viaUsing };
  }

  @Locked('outer', { waitTimeout: 0 })
  async inner(): Promise<number> {
    return (this.locks.current('outer') as Lock).fencingToken;
  }

  @Locked('slow', { waitTimeout: 0 })
  async slow(ms: number): Promise<string> {
    await sleep(ms);
    return 'done';
  }

  @Locked('slow', { onBusy: 'skip' })
  async slowOrSkip(): Promise<string> {
    return 'ran';
  }

  @Locked('fails')
  async fails(): Promise<never> {
    throw new Error('method failed');
  }

  @Locked('sync')
  syncWork(): void {
    calls.push(`sync:${this.locks.current()?.keys[0]}`);
  }
}

describe('@Locked on provider methods', () => {
  let redis: Redis;
  let prefix: string;
  let orders: Orders;
  let locks: LockService;
  let close: () => Promise<void>;

  beforeAll(() => {
    redis = redisClient();
  });

  afterAll(async () => {
    await redis.quit();
  });

  beforeEach(async () => {
    calls.length = 0;
    prefix = uniquePrefix('locked-provider');
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false, waitTimeout: 500 })],
      providers: [Orders],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    orders = app.get(Orders);
    locks = app.get(LockService);
    close = () => app.close();
  });

  afterEach(async () => {
    await close();
    await deleteKeysUnder(redis, prefix);
  });

  it('builds the key from a template placeholder and the real arguments', async () => {
    expect(await orders.confirm('42')).toBe('order:42');
    expect(await orders.confirm(7)).toBe('order:7');
  });

  it('reads a nested field with {index.path}', async () => {
    expect(await orders.byUser('x', { user: { id: 'u1' } })).toBe('user:u1');
  });

  it('calls a key function with the arguments and the instance as this', async () => {
    expect(await orders.byFunction('9', 'eu')).toBe('order:eu:9');
  });

  it('takes every key of an array, all or nothing', async () => {
    expect(await orders.multi('sku1', 'w1')).toEqual(['stock:sku1', 'warehouse:w1']);
    const held = await locks.acquire('warehouse:w1');
    await expect(orders.multi('sku1', 'w1')).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(await locks.isLocked('stock:sku1')).toBe(false);
    await held.release();
  });

  it('takes the keys a key function returns as an array', async () => {
    expect(await orders.many(['a', 'b'])).toEqual([true, true]);
    expect(await locks.isLocked(['item:a', 'item:b'])).toBe(false);
  });

  it.each([
    ['undefined', undefined, /placeholder \{0\} is undefined/],
    ['null', null, /placeholder \{0\} is null/],
    ['an object', { id: 1 }, /placeholder \{0\} is an object/],
    ['an empty string', '', /placeholder \{0\} is ""/],
    ['a key over the size limit', 'x'.repeat(2000), /1024 bytes/],
  ])('refuses a placeholder that is %s with InvalidLockOptionsError and does not run the method', async (_, value, message) => {
    const error = await orders.confirm(value).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(/Orders\.confirm/);
    expect((error as Error).message).toMatch(message);
    expect(calls).toEqual([]);
  });

  it('refuses a nested placeholder that resolves to nothing', async () => {
    await expect(orders.byUser('x', {})).rejects.toThrow(/Orders\.byUser.*\{1\.user\.id\} is undefined/);
  });

  it('is re-entrant in one call chain and releases when the outermost holder finishes', async () => {
    const result = await orders.outer();
    expect(result.inner).toBe(result.fencing);
    expect(result.viaUsing).toBe(result.fencing);
    expect(await locks.isLocked('outer')).toBe(false);
  });

  it('still excludes separate call chains on the same instance', async () => {
    const first = orders.slow(300);
    await sleep(50);
    await expect(orders.slow(10)).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(await first).toBe('done');
  });

  it('skips the call with onBusy: skip, resolving to undefined', async () => {
    const first = orders.slow(200);
    await sleep(50);
    expect(await orders.slowOrSkip()).toBeUndefined();
    await first;
    expect(await orders.slowOrSkip()).toBe('ran');
  });

  it('releases the lock when the method throws, and passes its error through', async () => {
    await expect(orders.fails()).rejects.toThrow('method failed');
    expect(await locks.isLocked('fails')).toBe(false);
  });

  it('runs a sync method under the lock', async () => {
    await orders.syncWork();
    expect(calls).toEqual(['sync:sync']);
  });

  it('returns undefined from current() outside a lock', () => {
    expect(locks.current()).toBeUndefined();
    expect(locks.current('outer')).toBeUndefined();
  });

  it('keeps the method name', () => {
    expect(Orders.prototype.confirm.name).toBe('confirm');
  });

  it('fails with a LockError naming the class when Nest did not create the instance', async () => {
    const stray = new Orders(locks);
    const error = await stray.confirm('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as Error).message).toMatch(/Orders\.confirm is @Locked, but this Orders was not created by Nest/);
  });
});

describe('@Locked decoration-time checks', () => {
  function decorate(apply: () => void): unknown {
    try {
      apply();
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it.each([
    ['ttl 0', () => Locked('k', { ttl: 0 }), /ttl/],
    ['negative waitTimeout', () => Locked('k', { waitTimeout: -1 }), /waitTimeout/],
    ['unknown onBusy', () => Locked('k', { onBusy: 'wait' as 'skip' }), /onBusy/],
    ['unknown option', () => Locked('k', { tll: 5 } as object), /"tll"/],
    ['empty key', () => Locked(''), /empty/],
    ['unknown placeholder', () => Locked('order:{id}'), /placeholder \{id\}/],
    ['unclosed brace', () => Locked('typo:{0'), /key template "typo:\{0" has an unclosed \{/],
    ['brace opened inside a placeholder', () => Locked('a:{0{1}}'), /key template "a:\{0\{1\}\}" has an unclosed \{ at character 3/],
    ['unmatched closing brace', () => Locked('typo:0}'), /key template "typo:0\}" has a \} that closes nothing/],
    ['empty placeholder', () => Locked('order:{}'), /key template "order:\{\}" has an empty placeholder \{\}/],
    ['bad path', () => Locked('order:{0..id}'), /placeholder \{0\.\.id\} is not of the form/],
    ['number key', () => Locked(42 as unknown as string), /key must be/],
    ['empty key array', () => Locked([]), /at least one key/],
  ])('rejects %s when the class is decorated, naming the class and method', (_, make, message) => {
    const error = decorate(() => {
      class Jobs {
        async run(): Promise<void> {}
      }
      const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, 'run') as PropertyDescriptor;
      make()(Jobs.prototype, 'run', descriptor);
    });
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(/Jobs\.run/);
    expect((error as Error).message).toMatch(message);
  });
});

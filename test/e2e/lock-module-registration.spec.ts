import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidLockOptionsError,
  LockModule,
  LockService,
  LockStore,
  MemoryLockStore,
  RedisLockStore,
  type LockModuleOptions,
  type LockOptionsFactory,
} from '../../lib';
import { bootLockApp } from '../support/app';
import { REDIS_URL, redisClient, useTestRedis } from '../support/redis';

function redisTarget(): { host: string; port: number } {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

async function lockRoundTrip(locks: LockService): Promise<number> {
  return locks.using('registration', (lock) => lock.fencingToken);
}

describe('LockModule registration', () => {
  const test = useTestRedis('registration');

  it('forRoot with a URL locks in Redis under the prefix', async () => {
    const { app, locks } = await bootLockApp({ redis: REDIS_URL, prefix: test.prefix });
    const lock = await locks.acquire('url');
    expect(await test.redis.get(`${test.prefix}{url}`)).toBe(lock.token);
    await lock.release();
    await app.close();
  });

  it('forRoot with ioredis options connects with them', async () => {
    const { app, locks } = await bootLockApp({ redis: { ...redisTarget(), db: 0 }, prefix: test.prefix });
    expect(await lockRoundTrip(locks)).toBeGreaterThan(0);
    expect(app.get(LockStore)).toBeInstanceOf(RedisLockStore);
    await app.close();
  });

  it('forRoot with an existing client uses it and leaves it open on shutdown', async () => {
    const client = redisClient();
    const { app, locks } = await bootLockApp({ redis: client, prefix: test.prefix });
    expect(await lockRoundTrip(locks)).toBeGreaterThan(0);
    await app.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('forRoot closes the client it created when the app shuts down', async () => {
    const connectionName = `nest-lock-${test.prefix.replace(/\W/g, '')}`;
    const { app, locks } = await bootLockApp({ redis: { ...redisTarget(), connectionName }, prefix: test.prefix });
    await lockRoundTrip(locks);
    expect(await test.redis.client('LIST')).toContain(connectionName);
    await app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await test.redis.client('LIST')).not.toContain(connectionName);
  });

  it('forRoot with store "memory" locks in process and writes nothing to Redis', async () => {
    const { app, locks } = await bootLockApp({ store: 'memory', prefix: test.prefix });
    expect(app.get(LockStore)).toBeInstanceOf(MemoryLockStore);
    expect(await lockRoundTrip(locks)).toBeGreaterThan(0);
    expect(await test.redis.keys(`${test.prefix}*`)).toEqual([]);
    await app.close();
  });

  it('forRoot with a custom store uses it and does not close it', async () => {
    const store = new MemoryLockStore();
    const close = jest.spyOn(store, 'close');
    const { app, locks } = await bootLockApp({ store });
    expect(app.get(LockStore)).toBe(store);
    await locks.using('custom', () => undefined);
    await app.close();
    expect(close).not.toHaveBeenCalled();
  });

  it('forRoot rejects an unknown store or option with InvalidLockOptionsError', () => {
    expect(() => LockModule.forRoot({ store: 'mongo' as 'redis' })).toThrow(InvalidLockOptionsError);
    expect(() => LockModule.forRoot({ ttl: -1 })).toThrow(/ttl/);
    expect(() => LockModule.forRoot({ prefix: '' })).toThrow(/prefix/);
    expect(() => LockModule.forRoot({ redis: 42 as unknown as string })).toThrow(/redis/);
    expect(() => LockModule.forRoot({ colour: 'red' } as LockModuleOptions)).toThrow(/"colour"/);
  });

  it('is global by default and module-scoped with isGlobal: false', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly locks: LockService) {}
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}

    const globalRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false }), FeatureModule],
    }).compile();
    expect(globalRef.get(Consumer).locks).toBeInstanceOf(LockService);
    await globalRef.close();

    await expect(
      Test.createTestingModule({
        imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false, isGlobal: false }), FeatureModule],
      }).compile(),
    ).rejects.toThrow(/LockService/);
  });

  describe('forRootAsync', () => {
    @Injectable()
    class Settings {
      readonly prefix = prefixHolder.value;
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    const prefixHolder = { value: '' };

    @Injectable()
    class LockOptions implements LockOptionsFactory {
      createLockOptions(): LockModuleOptions {
        return { redis: REDIS_URL, prefix: prefixHolder.value, logger: false };
      }
    }
    @Module({ providers: [LockOptions], exports: [LockOptions] })
    class LockOptionsModule {}

    beforeEach(() => {
      prefixHolder.value = test.prefix;
    });

    async function bootAsync(imports: Parameters<typeof Test.createTestingModule>[0]['imports']): Promise<void> {
      const moduleRef = await Test.createTestingModule({ imports }).compile();
      const app = moduleRef.createNestApplication();
      try {
        await app.init();
        const lock = await app.get(LockService).acquire('async');
        expect(await test.redis.get(`${test.prefix}{async}`)).toBe(lock.token);
        await lock.release();
      } finally {
        await app.close();
      }
    }

    it('builds the options with useFactory and inject', async () => {
      await bootAsync([
        LockModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: async (settings: Settings) => ({ redis: REDIS_URL, prefix: settings.prefix, logger: false }),
        }),
      ]);
    });

    it('builds the options with useClass', async () => {
      await bootAsync([LockModule.forRootAsync({ useClass: LockOptions })]);
    });

    it('builds the options with useExisting', async () => {
      await bootAsync([LockModule.forRootAsync({ imports: [LockOptionsModule], useExisting: LockOptions })]);
    });

    it('fails the app start with InvalidLockOptionsError when the factory returns bad options', async () => {
      await expect(
        Test.createTestingModule({
          imports: [LockModule.forRootAsync({ useFactory: () => ({ ttl: 0 }) })],
        }).compile(),
      ).rejects.toBeInstanceOf(InvalidLockOptionsError);
    });

    it('needs exactly one of useFactory, useClass, useExisting', () => {
      expect(() => LockModule.forRootAsync({})).toThrow(InvalidLockOptionsError);
    });
  });
});

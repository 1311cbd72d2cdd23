import { Test } from '@nestjs/testing';
import { InvalidLockOptionsError, LockModule, LockStoreUnavailableError, type LockModuleOptions } from '../../lib';
import { describeConnection } from '../../lib/options/lock-module-options.resolver';
import { DEAD_REDIS_URL, REDIS_URL } from '../support/redis';

async function start(options: LockModuleOptions): Promise<() => Promise<void>> {
  const moduleRef = await Test.createTestingModule({ imports: [LockModule.forRoot({ logger: false, ...options })] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    await app.init();
  } catch (error) {
    await app.close();
    throw error;
  }
  return () => app.close();
}

describe('LockModule verifyConnection', () => {
  it('fails the app start with a LockStoreUnavailableError naming the Redis when it is unreachable', async () => {
    const started = start({ redis: 'redis://:secret@127.0.0.1:1', verifyConnection: true, commandTimeout: 300 });
    await expect(started).rejects.toBeInstanceOf(LockStoreUnavailableError);
    await expect(started).rejects.toThrow(/redis:\/\/\*\*\*@127\.0\.0\.1:1\) at app start \(verifyConnection is on\)/);
    await expect(started).rejects.not.toThrow(/secret/);
  });

  it('starts the app with a reachable Redis', async () => {
    const stop = await start({ redis: REDIS_URL, verifyConnection: true });
    await stop();
  });

  it('starts the app without it, even with Redis unreachable (the lock operations fail later)', async () => {
    const stop = await start({ redis: DEAD_REDIS_URL, commandTimeout: 300 });
    await stop();
  });

  it('refuses a value that is not a boolean', () => {
    expect(() => LockModule.forRoot({ verifyConnection: 'yes' as unknown as boolean })).toThrow(InvalidLockOptionsError);
    expect(() => LockModule.forRoot({ appName: '' })).toThrow(/appName must be a non-empty string/);
  });
});

describe('where the store is, in messages', () => {
  it('names a URL without its password, a Sentinel master, a Cluster, quorum nodes and a client passed in', () => {
    const where = (redis: LockModuleOptions['redis']): string => describeConnection({ store: 'redis', redis: redis ?? REDIS_URL });
    expect(where('redis://user:pw@10.0.0.1:6380/2')).toBe('redis://***@10.0.0.1:6380/2');
    expect(
      where({
        sentinels: [
          { host: 'a', port: 1 },
          { host: 'b', port: 1 },
        ],
        name: 'orders',
      }),
    ).toBe('the master "orders" of 2 Sentinels');
    expect(where({ cluster: [{ host: 'a', port: 1 }] })).toBe('a Redis Cluster');
    expect(where(['redis://a', 'redis://b', 'redis://c'])).toBe('3 quorum nodes');
    expect(where({ host: '10.0.0.2', port: 6390 })).toBe('10.0.0.2:6390');
  });
});

import { Test } from '@nestjs/testing';
import { createServer, type Server } from 'node:net';
import { InvalidLockOptionsError, LockModule, LockStoreUnavailableError, type LockModuleOptions } from '../../lib';
import { describeConnection } from '../../lib/options/lock-module-options.resolver';
import { DEAD_REDIS_URL, REDIS_URL } from '../support/redis';
import { startRedisServer } from '../support/redis-server';

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

  it('names the cause once: a host name that does not resolve (DNS)', async () => {
    const started = start({ redis: 'redis://nest-lock-test.invalid:6379', verifyConnection: true, commandTimeout: 1000 });
    await expect(started).rejects.toThrow(
      /^Could not reach the lock store \(redis:\/\/nest-lock-test\.invalid:6379\) at app start \(verifyConnection is on\): the lock store \(Redis\) was unreachable: the host name "nest-lock-test\.invalid" did not resolve \(DNS: E[A-Z_]+\)\. Check the host name in the redis option, and the DNS of this machine\.$/,
    );
  });

  it('names the cause once: a TLS handshake that failed (rediss:// to a port that does not speak TLS)', async () => {
    const plain: Server = createServer((socket) => socket.on('data', () => socket.end('-ERR not TLS\r\n')));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const { port } = plain.address() as { port: number };
    try {
      const started = start({ redis: `rediss://127.0.0.1:${port}`, verifyConnection: true, commandTimeout: 1000 });
      await expect(started).rejects.toThrow(
        `(rediss://127.0.0.1:${port}) at app start (verifyConnection is on): the lock store (Redis) was unreachable: the TLS handshake failed (wrong version number). Check that the server speaks TLS`,
      );
    } finally {
      plain.close();
    }
  });

  it('names the cause once: a password the server wants and did not get (NOAUTH)', async () => {
    const server = await startRedisServer(['--requirepass', 'not-given'], { password: 'not-given' });
    try {
      const started = start({ redis: server.url, verifyConnection: true, commandTimeout: 1000 });
      await expect(started).rejects.toBeInstanceOf(LockStoreUnavailableError);
      await expect(started).rejects.toThrow(
        `(${server.url}) at app start (verifyConnection is on): the lock store (Redis) refused this app's credentials (NOAUTH Authentication required.). Check the password`,
      );
    } finally {
      await server.stop();
    }
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

import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { LockModule, LockService } from '../../lib';
import { DEFAULT_REDIS_URL } from '../../lib/lock.constants';
import { REDIS_URL, redisClient } from './redis';
import { takeStrayConnections } from './redis-guard';

// Run with REDIS_URL set to the library's default address, nothing tells a forgotten address from a given one.
const guarded = new URL(REDIS_URL).host !== new URL(DEFAULT_REDIS_URL).host;

(guarded ? describe : describe.skip)('the test Redis guard', () => {
  it('refuses and reports a connection to the library default address, which is not REDIS_URL', async () => {
    const client = new Redis(DEFAULT_REDIS_URL, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    await expect(client.connect()).rejects.toThrow();
    client.disconnect();
    expect(errors.map(({ message }) => message)).toEqual([expect.stringMatching(/, not to REDIS_URL \(/)]);
    expect(takeStrayConnections()).toEqual([
      {
        address: new URL(DEFAULT_REDIS_URL).host,
        test: 'the test Redis guard refuses and reports a connection to the library default address, which is not REDIS_URL',
      },
    ]);
  });

  it('catches a LockModule left on its default redis option', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ logger: false, commandTimeout: 200 })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await expect(app.get(LockService).isLocked('k')).rejects.toThrow();
    await app.close();
    expect(takeStrayConnections().map(({ address }) => address)).toContain(new URL(DEFAULT_REDIS_URL).host);
  });

  it('lets REDIS_URL through', async () => {
    const client = redisClient();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
    expect(takeStrayConnections()).toEqual([]);
  });
});

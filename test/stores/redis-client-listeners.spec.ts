import { bootLockApp } from '../support/app';
import { redisClient, uniquePrefix } from '../support/redis';

describe("the app's own ioredis client", () => {
  it('keeps no listener of the stores of apps closed since, however many used it', async () => {
    const client = redisClient();
    try {
      const events = ['close', 'ready', 'error', 'end'] as const;
      const before = events.map((event) => client.listenerCount(event));
      for (let i = 0; i < 5; i += 1) {
        const { app, locks } = await bootLockApp({ redis: client, prefix: uniquePrefix('listeners') });
        await (await locks.acquire('k')).release();
        await app.close();
      }
      expect(events.map((event) => client.listenerCount(event))).toEqual(before);
      expect(client.status).toBe('ready');
    } finally {
      client.disconnect();
    }
  });
});

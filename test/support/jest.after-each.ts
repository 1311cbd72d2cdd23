import { takeStrayConnections } from './redis-guard';

// A test that reached for the default Redis port by another address than REDIS_URL fails, naming the address
// (its own error may have been swallowed by a client's reconnects).
afterEach(() => {
  const stray = takeStrayConnections();
  if (stray.length > 0) {
    throw new Error(
      `${stray.length} connection(s) to ${[...new Set(stray.map(({ address }) => address))].join(', ')} instead of REDIS_URL ` +
        'during this test (from it, or from a client an earlier test left open): pass REDIS_URL (or use redisClient(), ' +
        'bootLockApp()) from test/support/redis.ts.',
    );
  }
});

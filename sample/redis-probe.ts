import { Redis } from 'ioredis';

/** Where the sample looks for Redis. */
export const SAMPLE_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Whether a Redis answers at `url` within a second.
 * @returns undefined if it does, else why not
 */
export async function probeRedis(url: string): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // The connection's own error says why ("connect ECONNREFUSED ..."); connect() only says it closed.
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return (cause ?? (error as Error)).message;
  } finally {
    client.disconnect();
  }
}

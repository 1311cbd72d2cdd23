import { Cluster, Redis } from 'ioredis';

/** One Redis the CLI was pointed at (a server, or a Cluster through one of its nodes), connected or not. */
export type RedisNodeConnection =
  | {
      /** `host:port` as given, without credentials: how output names the node. */
      readonly address: string;
      /** The client; close it with `disconnect()`. */
      readonly redis: Redis | Cluster;
      readonly error?: undefined;
    }
  | {
      /** `host:port` as given, without credentials. */
      readonly address: string;
      readonly redis?: undefined;
      /** Why it could not be reached (names `host:port`, never the password). */
      readonly error: Error;
    };

/**
 * The Redis URLs of `--redis` options (repeated, or comma-separated within one), in order, without duplicates.
 * @param given every `--redis` value, or undefined for none
 * @param fallback the URL(s) to use when none is given (`REDIS_URL`, else the library default)
 */
export function redisUrlsOf(given: readonly string[] | undefined, fallback: string): string[] {
  const urls = (given ?? [fallback]).flatMap((value) => value.split(',')).map((url) => url.trim());
  return [...new Set(urls.filter((url) => url !== ''))];
}

/**
 * Connects to the Redis at `url`; if it is a node of a Redis Cluster, to the whole Cluster through it.
 * @param url a Redis URL
 * @returns the connection, or why there is none
 * @throws the reply error if Redis refuses `INFO` (the user's ACL)
 */
export async function connectRedisNode(url: string): Promise<RedisNodeConnection> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let connectionError: Error | undefined;
  redis.on('error', (error: Error) => (connectionError = error));
  const { host, port, username, password, tls } = redis.options;
  const address = `${host}:${port}`;
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const cause = connectionError ?? (error as Error);
    return { address, error: new Error(`cannot reach Redis at ${address} (${cause.message})`, { cause }) };
  }
  if (!/cluster_enabled:1/.test(await redis.info('cluster').catch(disconnected(redis)))) {
    return { address, redis };
  }
  redis.disconnect();
  const cluster = new Cluster([{ host, port }], { redisOptions: { username, password, tls }, clusterRetryStrategy: () => null });
  cluster.on('error', (error: Error) => (connectionError = error));
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('end', () =>
        reject(new Error(`cannot reach the Redis Cluster at ${address} (${connectionError?.message ?? 'connection closed'})`)),
      );
    });
  } catch (error) {
    cluster.disconnect();
    return { address, error: error as Error };
  }
  return { address, redis: cluster };
}

/** Closes `redis` and passes the error on: a refusal of the first command (ACL) is the caller's to report. */
function disconnected(redis: Redis): (error: unknown) => never {
  return (error) => {
    redis.disconnect();
    throw error;
  };
}

import { GlideClient, Logger as GlideLogger } from '@valkey/valkey-glide';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { LockError, LockStoreUnavailableError, RedisLockStore, type RedisLockStoreOptions } from '../../lib';
import { bootLockApp, type LockApp } from './app';
import { describeLockStoreConformance } from './lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from './redis';
import { startRedisServer, type RedisServer } from './redis-server';

// GLIDE logs every NOSCRIPT it sees (the first script call on each node) to stdout: keep test output readable.
GlideLogger.setLoggerConfig('off');

/** A client of some library, connected to a server, and how to close it. */
export interface ConnectedClient {
  client: RedisLockStoreOptions['client'];
  close(): Promise<unknown> | void;
}

/** A Redis user to connect as. */
export interface RedisUser {
  username: string;
  password: string;
}

/** Connects a client of the library under test to `url`, as `user` if given. */
export type ClientConnector = (url: string, user?: RedisUser) => Promise<ConnectedClient>;

/** What the node-redis connector needs of a client: v4 and v5 alike. */
interface NodeRedisLike {
  connect(): Promise<unknown>;
  on(event: 'error', listener: () => void): unknown;
  disconnect(): Promise<unknown>;
}

/**
 * Connects node-redis clients made by `create` (v5's `createClient` by default, or v4's).
 * @param create the library's `createClient`
 */
export function connectNodeRedis(create: (options: { url: string } & Partial<RedisUser>) => NodeRedisLike = createClient): ClientConnector {
  return async (url, user) => {
    const client = create({ url, ...user });
    client.on('error', () => undefined);
    await client.connect();
    return { client: client as unknown as RedisLockStoreOptions['client'], close: () => client.disconnect().catch(() => undefined) };
  };
}

/** Connects Valkey GLIDE clients. */
export const connectGlide: ClientConnector = async (url, user) => {
  const { hostname: host, port } = new URL(url);
  const credentials = user ? { credentials: user } : {};
  const client = await GlideClient.createClient({
    addresses: [{ host, port: Number(port || 6379) }],
    requestTimeout: 2_000,
    ...credentials,
  });
  return { client, close: () => client.close() };
};

/**
 * The store conformance suite on clients of another library that the app created and connected itself.
 * @param name the library, for the test names
 * @param connect makes a connected client
 */
export function describeStoreOnClient(name: string, connect: ClientConnector): void {
  describeLockStoreConformance(`RedisLockStore on ${name}`, async (options) => {
    const connected = await connect(REDIS_URL);
    const prefix = uniquePrefix('foreign-client');
    const store = new RedisLockStore({ client: connected.client, prefix, logger: false, ...options });
    return {
      store,
      dispose: async () => {
        await store.close();
        const cleaner = redisClient();
        await deleteKeysUnder(cleaner, prefix);
        await cleaner.quit();
        await connected.close();
      },
    };
  });
}

/**
 * What apps and stores on another library's client must do beyond the conformance suite: wake a waiter of another
 * app on release (pub/sub on a connection of their own), and, on a redis-server of the test's own, report a frozen
 * server unavailable within commandTimeout and name the server's reply to a refusal.
 * @param name the library, for the test names
 * @param connect makes a connected client
 */
export function describeForeignClient(name: string, connect: ClientConnector): void {
  describe(`apps on ${name}`, () => {
    const prefix = uniquePrefix('foreign-client-apps');
    const opened: ConnectedClient[] = [];
    const apps: LockApp[] = [];

    const app = async (): Promise<LockApp> => {
      const connected = await connect(REDIS_URL);
      opened.push(connected);
      const booted = await bootLockApp({ redis: connected.client, prefix });
      apps.push(booted);
      return booted;
    };

    afterAll(async () => {
      await Promise.all(apps.map((booted) => booted.app.close()));
      await Promise.all(opened.map((connected) => connected.close()));
      const cleaner = redisClient();
      await deleteKeysUnder(cleaner, prefix);
      await cleaner.quit();
    });

    it('wakes a waiter in another app on release (pub/sub on a connection of its own), not at the lease end', async () => {
      const [one, two] = [await app(), await app()];
      const held = await one.locks.acquire('woken', { ttl: 30_000 });
      const waiting = two.locks.acquire('woken', { waitTimeout: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const releasedAt = Date.now();
      await held.release();
      const next = await waiting;
      expect(Date.now() - releasedAt).toBeLessThan(5_000);
      expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
      await next.release();
    });
  });

  describe(`a store on ${name}, on a server of its own`, () => {
    let server: RedisServer;
    const opened: ConnectedClient[] = [];
    const prefix = 'faults:';

    const store = async (user?: RedisUser, commandTimeout = 2_000): Promise<RedisLockStore> => {
      const connected = await connect(server.url, user);
      opened.push(connected);
      return new RedisLockStore({ client: connected.client, prefix, logger: false, commandTimeout });
    };

    beforeAll(async () => {
      server = await startRedisServer();
    });

    afterAll(async () => {
      server.thaw();
      await Promise.all(opened.map((connected) => connected.close()));
      await server.stop();
    });

    it('answers LockStoreUnavailableError within commandTimeout when Redis does not answer', async () => {
      const frozen = await store(undefined, 200);
      server.freeze();
      try {
        await expect(frozen.acquire(['frozen'], 'token', 1_000)).rejects.toBeInstanceOf(LockStoreUnavailableError);
      } finally {
        server.thaw();
      }
      await frozen.close();
    });

    it('turns a refusal (ACL) into a LockError that names the reply', async () => {
      const admin = new Redis(server.url);
      await admin.call('ACL', 'SETUSER', 'no-eval', 'on', '>no-eval-secret', '~*', '&*', '+@all', '-evalsha', '-eval');
      await admin.quit();
      const refusing = await store({ username: 'no-eval', password: 'no-eval-secret' });
      const refused = refusing.acquire(['acl'], 'token', 1_000);
      await expect(refused).rejects.toBeInstanceOf(LockError);
      await expect(refused).rejects.toThrow(/Redis refused it \(NOPERM/);
      await refusing.close();
    });
  });
}

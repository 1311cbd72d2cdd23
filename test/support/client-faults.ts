import { LockError, LockStoreUnavailableError, RedisLockStore, type RedisLockStoreOptions } from '../../lib';
import { startRedisServer, type RedisServer } from './redis-server';
import { Redis } from 'ioredis';

/** A client of some library, connected to a server, and how to close it. */
export interface ConnectedClient {
  client: RedisLockStoreOptions['client'];
  close(): Promise<unknown> | void;
}

/** Connects a client of the library under test to `url`, as `user` if given. */
export type ClientConnector = (url: string, user?: { username: string; password: string }) => Promise<ConnectedClient>;

/**
 * What a store on another library's client must do when Redis misbehaves, on a redis-server of the test's own:
 * a frozen server is reported unavailable within commandTimeout, and a refusal names the server's reply.
 * @param name the library, for the test names
 * @param connect makes a connected client
 */
export function describeClientFaults(name: string, connect: ClientConnector): void {
  describe(`a store on ${name}, on a server of its own`, () => {
    let server: RedisServer;
    const opened: ConnectedClient[] = [];
    const prefix = 'faults:';

    const store = async (user?: { username: string; password: string }, commandTimeout = 2_000): Promise<RedisLockStore> => {
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

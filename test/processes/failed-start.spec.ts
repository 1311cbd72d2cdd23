import { spawnWorker } from './run-worker';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server';

/** What the worker printed, and whether it exited by itself in time. */
interface FailedStart {
  exited: boolean;
  error?: { name: string; message: string };
  logs: Array<{ log: string; message: string }>;
}

/** Starts an app that verifies its connection to `redis` in a child process, and waits up to 15 s for it to exit. */
function failedStart(redis: unknown): Promise<FailedStart> {
  const child = spawnWorker('failed-start', [JSON.stringify(redis)]);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, string>);
      resolve({
        exited: code === 0,
        error: lines.find((line) => line.name !== undefined) as FailedStart['error'],
        logs: lines.filter((line) => line.log !== undefined) as FailedStart['logs'],
      });
    });
  });
}

describe('a start that fails because the lock store cannot be used (verifyConnection)', () => {
  it('names a refused connection with its host and port, once, and the process exits by itself', async () => {
    const port = await freePort();
    const started = await failedStart(`redis://127.0.0.1:${port}`);
    expect(started.exited).toBe(true);
    expect(started.error?.name).toBe('LockStoreUnavailableError');
    expect(started.error?.message).toBe(
      `Could not reach the lock store (redis://127.0.0.1:${port}) at app start (verifyConnection is on): the lock store (Redis) ` +
        `was unreachable: connection refused by 127.0.0.1:${port}. Check that Redis runs at that address and port.`,
    );
    // The cause is named by the error only: no outage warning beside it.
    expect(started.logs).toEqual([]);
  });

  describe('with a password-protected Redis', () => {
    let server: RedisServer;

    beforeAll(async () => {
      server = await startRedisServer(['--requirepass', 'the-right-s3cret'], { password: 'the-right-s3cret' });
    });

    afterAll(async () => {
      await server.stop();
    });

    it('names refused credentials without showing the password, and the process exits by itself', async () => {
      const started = await failedStart({ host: '127.0.0.1', port: server.port, password: 'a-wrong-s3cret' });
      expect(started.exited).toBe(true);
      expect(started.error?.message).toBe(
        `Could not reach the lock store (127.0.0.1:${server.port}) at app start (verifyConnection is on): the lock store (Redis) ` +
          `refused this app's credentials (WRONGPASS invalid username-password pair or user is disabled.). Check the password ` +
          `(and user name) in the redis option against the server’s requirepass or ACL users.`,
      );
      expect(JSON.stringify(started)).not.toMatch(/s3cret/);
    });
  });
});

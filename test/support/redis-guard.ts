import net from 'node:net';
import { DEFAULT_REDIS_URL } from '../../lib/lock.constants';

/** A connection a test tried to open to the default Redis port other than through `REDIS_URL`. */
export interface StrayConnection {
  /** The address it was aimed at, `host:port`. */
  address: string;
  /** The test that was running. */
  test: string | undefined;
}

/** The guard's state, kept on the (process-wide) net module: jest loads this file once per spec file. */
interface GuardState {
  allowed: string;
  stray: StrayConnection[];
  /** The running test's name, read from the `expect` of the spec file that jest runs now. */
  currentTest: () => string | undefined;
}

const STATE = Symbol.for('nest-lock.test.redis-guard');
const DEFAULT_PORT = Number(new URL(DEFAULT_REDIS_URL).port);

function state(): GuardState | undefined {
  return (net as unknown as Record<symbol, GuardState | undefined>)[STATE];
}

/** `host:port` of a Redis URL, the way a socket is aimed at it. */
function addressOf(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port || DEFAULT_PORT}`;
}

/** Whether a socket aimed at `host` reaches this machine (where a developer's own Redis listens). */
function isLocal(host: string): boolean {
  return host === 'localhost' || /^(127\.|0\.0\.0\.0$|::1$|::$|::ffff:127\.)/.test(host);
}

/** Where the arguments of `net.Socket#connect` aim (normalized by net.connect, or as a caller wrote them). */
function targetOf(args: unknown[]): { host: string; port: number } | undefined {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const { host = 'localhost', port, path } = first as { host?: string; port?: number | string; path?: string };
    return path === undefined && port !== undefined ? { host, port: Number(port) } : undefined;
  }
  return typeof first === 'number' || /^\d+$/.test(String(first))
    ? { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first) }
    : undefined;
}

/**
 * Makes every socket of this process that is aimed at the default Redis port (6379) of this machine by another
 * address than `testRedisUrl` fail at once, and records it for {@link takeStrayConnections}: a spec that hard-codes
 * `127.0.0.1:6379` or leaves the module's `redis` option to its default would otherwise reach the developer's
 * local Redis while `REDIS_URL` names another one. The test Redis's default address (`localhost`) differs from
 * the library's (`127.0.0.1`) so that this holds in a run without `REDIS_URL` too.
 * @param testRedisUrl the Redis the tests are meant to use
 */
export function guardRedisAddress(testRedisUrl: string): void {
  // Each spec file has its own global object, and its own expect.
  const currentTest = (): string | undefined =>
    (globalThis as { expect?: { getState(): { currentTestName?: string } } }).expect?.getState().currentTestName;
  const installed = state();
  if (installed !== undefined) {
    installed.currentTest = currentTest;
    return;
  }
  const guard: GuardState = { allowed: addressOf(testRedisUrl), stray: [], currentTest };
  (net as unknown as Record<symbol, GuardState>)[STATE] = guard;
  const connect = net.Socket.prototype.connect as (this: net.Socket, ...args: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
    const aim = targetOf(args);
    if (aim === undefined || aim.port !== DEFAULT_PORT || !isLocal(aim.host) || `${aim.host}:${aim.port}` === guard.allowed) {
      return connect.apply(this, args);
    }
    const target = `${aim.host}:${aim.port}`;
    guard.stray.push({ address: target, test: guard.currentTest() });
    const error = new Error(
      `test connected to ${target}, not to REDIS_URL (${guard.allowed}): take the address from test/support/redis.ts`,
    );
    process.nextTick(() => this.destroy(error));
    return this;
  } as typeof net.Socket.prototype.connect;
}

/** The stray connections recorded since the last call, which are then forgotten. */
export function takeStrayConnections(): StrayConnection[] {
  const guard = state();
  return guard === undefined ? [] : guard.stray.splice(0);
}

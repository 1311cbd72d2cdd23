import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** A redis-server this test started on a free port, in its own temp directory. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Kills the server (nothing is saved) and starts it again, empty, on the same port. */
  restart(downMs?: number): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void;
  /** Resumes a frozen server (SIGCONT). */
  thaw(): void;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Kills of the servers this process started: run when it exits, even if a test failed before its cleanup. */
const running = new Set<() => void>();
process.once('exit', () => running.forEach((kill) => kill()));

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Starts `redis-server` without persistence on a free port and waits until it answers PING.
 * @param args extra server arguments (later ones win), or a function of the chosen port that returns them
 * @param ping client options for the PING that checks the server is up (password, TLS)
 */
export async function startRedisServer(args: string[] | ((port: number) => string[]) = [], ping: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const extra = typeof args === 'function' ? args(port) : args;
  const dir = mkdtempSync(join(tmpdir(), 'nest-lock-redis-'));
  const launch = (): ChildProcess =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
      stdio: 'ignore',
    });
  const kill = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  let child = launch();
  const killOnExit = (): void => void child.kill('SIGKILL');
  running.add(killOnExit);
  const url = `redis://127.0.0.1:${port}`;
  await waitForPing(url, ping);
  return {
    port,
    url,
    get process() {
      return child;
    },
    restart: async (downMs = 0) => {
      await kill(child);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = launch();
      await waitForPing(url, ping);
    },
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    stop: async () => {
      running.delete(killOnExit);
      child.kill('SIGCONT');
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(url: string, options: RedisOptions): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  client.on('error', () => undefined);
  for (let i = 0; i < 100; i += 1) {
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`redis-server at ${url} did not answer`);
}

/** Commands the server has processed so far (INFO stats total_commands_processed). */
export async function commandsProcessed(client: Redis): Promise<number> {
  const info = await client.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
}

/**
 * Counts the commands clients send to the server while `during` runs (MONITOR; commands that scripts run
 * inside Redis are not counted, the script call itself is). The monitoring connection's own commands are excluded.
 * @param url the server
 * @param during the work to observe
 */
export async function countClientCommands(url: string, during: () => Promise<void>): Promise<string[]> {
  const client = new Redis(url);
  const monitor = await client.monitor();
  const seen: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') {
      seen.push(String(args[0]).toLowerCase());
    }
  });
  try {
    await during();
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
  return seen;
}

/** A redis-server of the test file's own and a client of it. */
export interface OwnRedis {
  readonly server: RedisServer;
  readonly redis: Redis;
}

/**
 * Registers jest hooks that start a redis-server for the file (before all tests) and stop it afterwards.
 * @param args extra server arguments
 */
export function useRedisServer(args: string[] = []): OwnRedis {
  const state: { server?: RedisServer; redis?: Redis } = {};
  beforeAll(async () => {
    state.server = await startRedisServer(args);
    state.redis = new Redis(state.server.url);
  });
  afterAll(async () => {
    await state.redis?.quit();
    await state.server?.stop();
  });
  return {
    get server() {
      return state.server as RedisServer;
    },
    get redis() {
      return state.redis as Redis;
    },
  };
}

/**
 * Waits until a replica has done its first sync with its master (Redis 7 delays it by repl-diskless-sync-delay).
 * @param url the replica
 */
export async function waitForReplicaSync(url: string): Promise<void> {
  const replica = new Redis(url);
  try {
    for (let i = 0; i < 400; i += 1) {
      if (/master_link_status:up/.test(await replica.info('replication'))) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the replica at ${url} did not sync with its master`);
  } finally {
    replica.disconnect();
  }
}

/** The master serving a slot, and its replica (if it has a live one). */
export interface RedisClusterShard {
  readonly master: RedisServer;
  readonly replica?: RedisServer;
}

/** A Redis Cluster of this test's own, on free ports. */
export interface RedisClusterFixture {
  readonly nodes: RedisServer[];
  /** `{ host, port }` of every node, for an ioredis `Cluster`. */
  readonly startupNodes: Array<{ host: string; port: number }>;
  /**
   * Where a key lives now.
   * @param key a Redis key (as stored, with its prefix)
   */
  shardOf(key: string): Promise<RedisClusterShard>;
  stop(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface RedisClusterSetup {
  /** Replicas per master (3 masters). @default 1 */
  replicas?: 0 | 1;
  /** Extra arguments for every node. */
  args?: string[];
}

/**
 * Starts 3 cluster-enabled masters (and their replicas), joins them with `redis-cli --cluster create` and waits
 * until every replica has synced. cluster-node-timeout is 1 s, so a dead master's replica takes over within a few
 * seconds, however long it was cut off from it (cluster-replica-validity-factor 0): a test can freeze it first.
 * @param setup replicas per master and extra server arguments
 */
export async function startRedisCluster({ replicas = 1, args = [] }: RedisClusterSetup = {}): Promise<RedisClusterFixture> {
  const nodes = await Promise.all(
    Array.from({ length: 3 * (1 + replicas) }, () =>
      startRedisServer((port) => [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        '--cluster-replica-validity-factor',
        '0',
        ...args,
      ]),
    ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  await joinCluster(nodes, replicas).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  const alive = (node: RedisServer): boolean => node.process.exitCode === null && node.process.signalCode === null;
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    shardOf: async (key) => {
      const asked = nodes.find(alive) as RedisServer;
      const client = new Redis(asked.url);
      try {
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const lines = String(await client.call('CLUSTER', 'NODES'))
          .trim()
          .split('\n')
          .map((line) => line.split(' '));
        const byPort = (address: string): RedisServer | undefined => nodes.find((node) => address.startsWith(`127.0.0.1:${node.port}@`));
        const owner = lines.find(
          ([, , flags, , , , , , ...ranges]) =>
            flags.includes('master') &&
            !flags.includes('fail') &&
            ranges.some((range) => {
              const [from, to = from] = range.split('-').map(Number);
              return slot >= from && slot <= to;
            }),
        );
        if (!owner) {
          throw new Error(`no live master serves slot ${slot}`);
        }
        const replica = lines.find(
          ([, address, flags, master]) => master === owner[0] && !flags.includes('fail') && alive(byPort(address) as RedisServer),
        );
        return { master: byPort(owner[1]) as RedisServer, replica: replica && byPort(replica[1]) };
      } finally {
        client.disconnect();
      }
    },
    stop,
  };
}

async function joinCluster(nodes: RedisServer[], replicas: number): Promise<void> {
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  await new Promise<void>((resolve, reject) => {
    const create = spawn('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
      stdio: 'ignore',
    });
    create.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited with ${code}`))));
  });
  for (const node of nodes) {
    const client = new Redis(node.url);
    try {
      for (let i = 0; i < 200 && !/cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO'))); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (/role:slave/.test(await client.info('replication'))) {
        await waitForReplicaSync(node.url);
      }
    } finally {
      client.disconnect();
    }
  }
}

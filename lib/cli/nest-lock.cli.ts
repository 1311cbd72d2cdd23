#!/usr/bin/env node
// `npx nest-lock inspect` and `npx nest-lock release KEY --force`: look at and free locks as an operator.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, DEFAULT_REDIS_URL } from '../lock.constants.js';
import { LockInspector, type InspectedLock } from './lock-inspector.js';

const USAGE = `Usage:
  nest-lock inspect [--redis URL] [--prefix lock:] [--json]
  nest-lock release KEY --force [--yes] [--redis URL] [--prefix lock:]

  --redis   Redis URL (default ${DEFAULT_REDIS_URL}, or REDIS_URL)
  --prefix  the LockModule prefix (default ${DEFAULT_PREFIX})
  --force   required by release: it frees a lock its holder still believes it has
  --yes     do not ask for confirmation`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      redis: { type: 'string', default: process.env.REDIS_URL ?? DEFAULT_REDIS_URL },
      prefix: { type: 'string', default: DEFAULT_PREFIX },
      force: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const [command, key] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command !== 'inspect' && command !== 'release') {
    process.stderr.write(`Unknown command "${command}".\n${USAGE}\n`);
    return 2;
  }
  if (command === 'release' && (key === undefined || !values.force)) {
    process.stderr.write(`release needs a KEY and --force.\n${USAGE}\n`);
    return 2;
  }
  let redis: Redis | Cluster | undefined;
  try {
    redis = await connect(values.redis);
    const inspector = new LockInspector(redis, values.prefix);
    return command === 'inspect' ? await inspect(inspector, values.json) : await release(inspector, key, values.yes);
  } catch (error) {
    process.stderr.write(`nest-lock: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    redis?.disconnect();
  }
}

/** Connects to the Redis at `url`; if it is a node of a Redis Cluster, to the whole Cluster through it. */
async function connect(url: string): Promise<Redis | Cluster> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let connectionError: Error | undefined;
  redis.on('error', (error: Error) => (connectionError = error));
  const { host, port, username, password, tls } = redis.options;
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${host}:${port} (${(connectionError ?? (error as Error)).message})`, { cause: error });
  }
  if (!/cluster_enabled:1/.test(await redis.info('cluster'))) {
    return redis;
  }
  redis.disconnect();
  const cluster = new Cluster([{ host, port }], { redisOptions: { username, password, tls }, clusterRetryStrategy: () => null });
  cluster.on('error', (error: Error) => (connectionError = error));
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('end', () =>
      reject(new Error(`cannot reach the Redis Cluster at ${host}:${port} (${connectionError?.message ?? 'connection closed'})`)),
    );
  });
  return cluster;
}

async function inspect(inspector: LockInspector, json: boolean): Promise<number> {
  const locks = await inspector.list();
  if (json) {
    process.stdout.write(`${JSON.stringify(locks, null, 2)}\n`);
    return 0;
  }
  if (locks.length === 0) {
    process.stdout.write('No lock is held or waited for.\n');
    return 0;
  }
  const rows = locks.map((lock) => [
    lock.key,
    holderOf(lock),
    lock.ttl === undefined ? '-' : `${lock.ttl} ms`,
    String(lock.fencingToken ?? '-'),
    String(lock.waiters),
  ]);
  process.stdout.write(table(['KEY', 'HOLDER', 'TTL', 'FENCING', 'WAITERS'], rows));
  return 0;
}

async function release(inspector: LockInspector, key: string, yes: boolean): Promise<number> {
  const lock = await inspector.describe(key);
  if (lock.holder === undefined) {
    process.stdout.write(`Lock "${key}" is not held.\n`);
    return 1;
  }
  if (!yes && !process.stdin.isTTY) {
    process.stderr.write(`Nothing released: release asks for confirmation on a terminal; pass --yes to release "${key}" without asking.\n`);
    return 1;
  }
  if (!yes && !(await confirm(`Force-release lock "${key}" held by ${holderOf(lock)} (${lock.ttl} ms left)? [y/N] `))) {
    process.stdout.write('Nothing released.\n');
    return 1;
  }
  if (!(await inspector.forceRelease(key, lock.holder))) {
    process.stdout.write(`Lock "${key}" changed hands meanwhile; nothing released.\n`);
    return 1;
  }
  process.stdout.write(`Released lock "${key}".\n`);
  return 0;
}

async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

function holderOf(lock: InspectedLock): string {
  if (lock.holder === undefined) {
    return '(free)';
  }
  return lock.holderApp === undefined ? `${lock.holder.slice(0, 8)}...` : `${lock.holderApp}@${lock.holderHost}:${lock.holderPid}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

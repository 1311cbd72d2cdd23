#!/usr/bin/env node
// `npx nest-lock inspect` and `npx nest-lock release KEY --force`: look at and free locks as an operator.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { DEFAULT_PREFIX, DEFAULT_REDIS_URL } from '../lock.constants.js';
import { LockInspector, type InspectedHolder, type InspectedLock } from './lock-inspector.js';

const USAGE = `Usage:
  nest-lock inspect [--redis URL] [--prefix lock:] [--json]
  nest-lock release KEY --force [--token TOKEN] [--yes] [--redis URL] [--prefix lock:]

  --redis   Redis URL (default ${DEFAULT_REDIS_URL}, or REDIS_URL)
  --prefix  the LockModule prefix (default ${DEFAULT_PREFIX})
  --force   required by release: it frees a lock its holder still believes it has
  --token   the holder to release (required for a read lock or a semaphore permit: inspect --json lists them)
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
      token: { type: 'string' },
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
    return command === 'inspect' ? await inspect(inspector, values.json) : await release(inspector, key, values.yes, values.token);
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
  // One row per holder: a shared lock lists each reader or permit under its key.
  const rows = locks.flatMap((lock) =>
    (lock.holders.length > 0 ? lock.holders : [undefined]).map((holder, i) => [
      i === 0 ? lock.key : '',
      i === 0 ? modeOf(lock) : '',
      holder ? holderOf(holder) : '(free)',
      holder ? `${holder.ttl} ms` : '-',
      i === 0 ? String(lock.fencingToken ?? '-') : '',
      i === 0 ? String(lock.waiters) : '',
    ]),
  );
  process.stdout.write(table(['KEY', 'MODE', 'HOLDER', 'TTL', 'FENCING', 'WAITERS'], rows));
  return 0;
}

async function release(inspector: LockInspector, key: string, yes: boolean, token: string | undefined): Promise<number> {
  const lock = await inspector.describe(key);
  const holder = token === undefined && lock.holders.length === 1 ? lock.holders[0] : lock.holders.find((found) => found.token === token);
  if (lock.holders.length === 0 || (token !== undefined && !holder)) {
    process.stdout.write(token === undefined ? `Lock "${key}" is not held.\n` : `Lock "${key}" is not held by ${token}.\n`);
    return 1;
  }
  if (!holder) {
    process.stderr.write(
      `Lock "${key}" has ${lock.holders.length} holders (${modeOf(lock)}); name the one to release with --token TOKEN.\n`,
    );
    return 1;
  }
  if (!yes && !process.stdin.isTTY) {
    process.stderr.write(`Nothing released: release asks for confirmation on a terminal; pass --yes to release "${key}" without asking.\n`);
    return 1;
  }
  if (!yes && !(await confirm(`Force-release lock "${key}" held by ${holderOf(holder)} (${holder.ttl} ms left)? [y/N] `))) {
    process.stdout.write('Nothing released.\n');
    return 1;
  }
  if (!(await inspector.forceRelease(lock, holder.token))) {
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

function holderOf(holder: InspectedHolder): string {
  return holder.app === undefined ? `${holder.token.slice(0, 8)}...` : `${holder.app}@${holder.host}:${holder.pid}`;
}

/** `mutex`, `read (3)`, `semaphore 2/5`: how the key is held. */
function modeOf(lock: InspectedLock): string {
  if (lock.mode === 'read') {
    return `read (${lock.holders.length})`;
  }
  return lock.limit === 1 ? 'exclusive' : `semaphore ${lock.holders.length}/${lock.limit}`;
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

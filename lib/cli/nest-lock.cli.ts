#!/usr/bin/env node
// `npx nest-lock inspect` and `npx nest-lock release KEY --force`: look at and free locks as an operator, on one
// Redis, a Cluster, or every node of a quorum.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_PREFIX, DEFAULT_REDIS_URL } from '../lock.constants.js';
import { LockInspector, type InspectedHolder, type InspectedLock } from './lock-inspector.js';
import { connectRedisNode, redisUrlsOf, type RedisNodeConnection } from './redis-node.connection.js';

const USAGE = `Usage:
  nest-lock inspect [--redis URL]... [--prefix lock:] [--json]
  nest-lock release KEY --force [--token TOKEN] [--yes] [--redis URL]... [--prefix lock:]

  --redis   Redis URL (default ${DEFAULT_REDIS_URL}, or REDIS_URL). In quorum mode (the app's redis option lists
            several Redis), give every node: --redis again per node, or URLs separated by commas; release then
            frees the lock on each of them. Given one node of a quorum, release frees it on that node only, and
            the majority still holds the lock.
  --prefix  the LockModule prefix (default ${DEFAULT_PREFIX})
  --force   required by release: it frees a lock its holder still believes it has
  --token   the holder to release (required for a read lock or a semaphore permit: inspect --json lists them)
  --yes     do not ask for confirmation`;

/** A node the CLI reached, with the inspector of its locks. */
interface ReachedNode {
  readonly address: string;
  readonly inspector: LockInspector;
}

/** A node the CLI was pointed at: reached, or why not. */
type CliNode = ReachedNode | { readonly address: string; readonly error: Error };

function isReached(node: CliNode): node is ReachedNode {
  return 'inspector' in node;
}

/** What a force-release did on one node. */
type NodeOutcome =
  | 'released'
  | 'not held there'
  | 'held by another holder there; left alone'
  | 'changed hands meanwhile; left alone'
  | `did not answer (${string})`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      redis: { type: 'string', multiple: true },
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
  const urls = redisUrlsOf(values.redis, process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
  const connections: RedisNodeConnection[] = [];
  try {
    const settled = await Promise.allSettled(urls.map(connectRedisNode));
    settled.forEach((result) => result.status === 'fulfilled' && connections.push(result.value));
    const refused = settled.find((result) => result.status === 'rejected');
    if (refused) {
      throw refused.reason;
    }
    const nodes: CliNode[] = connections.map(({ address, redis, error }) =>
      redis ? { address, inspector: new LockInspector(redis, values.prefix) } : { address, error },
    );
    const reached = nodes.filter(isReached);
    // With several nodes, release reports each node's outcome, an unreachable one included.
    const unreachable = connections.find((connection) => connection.error !== undefined);
    if (unreachable?.error && (nodes.length === 1 || command === 'inspect')) {
      throw unreachable.error;
    }
    return command === 'inspect' ? await inspect(reached, values.json) : await release(nodes, key, values.yes, values.token);
  } catch (error) {
    process.stderr.write(`nest-lock: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    connections.forEach((connection) => connection.redis?.disconnect());
  }
}

async function inspect(nodes: ReachedNode[], json: boolean): Promise<number> {
  const listed = await Promise.all(nodes.map(async ({ address, inspector }) => ({ node: address, locks: await inspector.list() })));
  if (json) {
    process.stdout.write(`${JSON.stringify(listed.length === 1 ? listed[0].locks : listed, null, 2)}\n`);
    return 0;
  }
  // Several nodes (a quorum): each one's locks under its address.
  const sections = listed.map(({ node, locks }) => `${listed.length === 1 ? '' : `${node}:\n`}${lockTable(locks)}`);
  process.stdout.write(sections.join('\n'));
  return 0;
}

function lockTable(locks: InspectedLock[]): string {
  if (locks.length === 0) {
    return 'No lock is held or waited for.\n';
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
  return table(['KEY', 'MODE', 'HOLDER', 'TTL', 'FENCING', 'WAITERS'], rows);
}

/** Whether the operator agreed (or `--yes` did) to release `holder`'s lock; says why not otherwise. */
async function confirmed(key: string, holder: InspectedHolder, yes: boolean, where: string): Promise<boolean> {
  if (yes) {
    return true;
  }
  if (!process.stdin.isTTY) {
    process.stderr.write(`Nothing released: release asks for confirmation on a terminal; pass --yes to release "${key}" without asking.\n`);
    return false;
  }
  if (!(await confirm(`Force-release lock "${key}" held by ${holderOf(holder)} (${holder.ttl} ms left)${where}? [y/N] `))) {
    process.stdout.write('Nothing released.\n');
    return false;
  }
  return true;
}

/**
 * Finds the holder (`token`, or the only one) on the nodes, and releases it on every node that has it; the lock is
 * free only if no node still holds it. Several nodes are a quorum: each node's outcome is reported.
 */
async function release(nodes: CliNode[], key: string, yes: boolean, token: string | undefined): Promise<number> {
  const several = nodes.length > 1;
  const where = several ? ' on the nodes given' : '';
  const described = await Promise.all(
    nodes.map(async (node) => (isReached(node) ? node.inspector.describe(key).catch((error: Error) => error) : node.error)),
  );
  const locks = described.filter((lock): lock is InspectedLock => !(lock instanceof Error));
  const seen = locks.flatMap((lock) => lock.holders);
  const tokens = [...new Set(seen.map((found) => found.token))];
  const holder = seen.find((found) => found.token === (token ?? (tokens.length === 1 ? tokens[0] : undefined)));
  if (!holder) {
    if (token === undefined && tokens.length > 1) {
      const modes = [...new Set(locks.filter((lock) => lock.holders.length > 0).map(modeOf))].join(', ');
      process.stderr.write(`Lock "${key}" has ${tokens.length} holders (${modes})${where}; name the one to release with --token TOKEN.\n`);
    } else {
      process.stdout.write(`Lock "${key}" is not held${token === undefined ? '' : ` by ${token}`}${where}.\n`);
    }
    return 1;
  }
  const holds = (lock: InspectedLock | Error): boolean =>
    !(lock instanceof Error) && lock.holders.some((found) => found.token === holder.token);
  if (!(await confirmed(key, holder, yes, several ? ` on ${described.filter(holds).length} of ${nodes.length} nodes` : ''))) {
    return 1;
  }
  const outcomes = await Promise.all(
    nodes.map(async (node, i): Promise<NodeOutcome> => {
      const lock = described[i];
      if (lock instanceof Error || !isReached(node)) {
        return `did not answer (${lock instanceof Error ? lock.message : 'no connection'})`;
      }
      if (!holds(lock)) {
        return lock.holders.length === 0 ? 'not held there' : 'held by another holder there; left alone';
      }
      const released = await node.inspector.forceRelease(lock, holder.token).catch((error: Error) => error);
      if (released instanceof Error) {
        return `did not answer (${released.message})`;
      }
      return released ? 'released' : 'changed hands meanwhile; left alone';
    }),
  );
  return several ? reportEveryNode(nodes, key, holder, outcomes) : reportOneNode(nodes[0], key, outcomes[0]);
}

function reportOneNode(node: CliNode, key: string, outcome: NodeOutcome): number {
  if (outcome !== 'released') {
    process.stdout.write(`Lock "${key}" changed hands meanwhile; nothing released.\n`);
    return 1;
  }
  // One node cannot tell whether it is the whole deployment or one node of a quorum: say which it was.
  process.stdout.write(
    `Released lock "${key}" on ${node.address}, the one node given. In quorum mode (several Redis in the app's redis ` +
      'option) the lock is held on every node: give every node (--redis per node, or a comma list) to release it.\n',
  );
  return 0;
}

function reportEveryNode(nodes: CliNode[], key: string, holder: InspectedHolder, outcomes: NodeOutcome[]): number {
  process.stdout.write(`Force-release of lock "${key}" held by ${holderOf(holder)}:\n`);
  outcomes.forEach((outcome, i) => process.stdout.write(`  ${nodes[i].address}: ${outcome}\n`));
  const released = outcomes.filter((outcome) => outcome === 'released').length;
  if (!outcomes.every((outcome) => outcome === 'released' || outcome === 'not held there')) {
    process.stdout.write(
      `Lock "${key}" may still be held: released on ${released} of ${nodes.length} nodes; run release again for the others.\n`,
    );
    return 1;
  }
  const others = released < nodes.length ? ' (the others did not hold it)' : '';
  process.stdout.write(`Released lock "${key}" on ${released} of ${nodes.length} nodes${others}.\n`);
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

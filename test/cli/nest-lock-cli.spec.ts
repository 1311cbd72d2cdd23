import { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { bootLockApp, type LockApp } from '../support/app';
import { cli, cliOnTerminal } from '../support/cli';
import { DEAD_REDIS_URL, eventually, REDIS_URL, uniquePrefix, useTestRedis } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('the nest-lock CLI', () => {
  const test = useTestRedis('cli');

  it('inspect lists held locks with key, holder (app, host, pid), remaining TTL, fencing token and waiter count', async () => {
    const holder = await bootLockApp({ prefix: test.prefix, appName: 'orders api' });
    const waiter = await bootLockApp({ prefix: test.prefix });
    const lock = await holder.locks.acquire('report:42', { ttl: 30_000 });
    const waiting = waiter.locks.acquire('report:42', { waitTimeout: 20_000 }).catch((e: unknown) => e);
    await eventually(async () => (await test.redis.zcard(`${test.prefix}{report:42}:q`)) === 1, 'the waiter is queued');

    const shown = await cli(['inspect', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/KEY\s+MODE\s+HOLDER\s+TTL\s+FENCING\s+WAITERS/);
    const who = `orders_api@${hostname().replace(/[^\w.-]/g, '_')}:${process.pid}`;
    expect(lock.token.startsWith(`${who}/`)).toBe(true);
    expect(shown.stdout).toMatch(
      new RegExp(`report:42\\s+exclusive\\s+${who.replace(/\./g, '\\.')}\\s+\\d+ ms\\s+${lock.fencingToken}\\s+1`),
    );

    const json = JSON.parse((await cli(['inspect', '--json', '--redis', REDIS_URL, '--prefix', test.prefix])).stdout);
    expect(json).toEqual([
      {
        key: 'report:42',
        mode: 'write',
        limit: 1,
        holders: [
          { token: lock.token, app: 'orders_api', host: hostname().replace(/[^\w.-]/g, '_'), pid: process.pid, ttl: expect.any(Number) },
        ],
        holder: lock.token,
        holderApp: 'orders_api',
        holderHost: hostname().replace(/[^\w.-]/g, '_'),
        holderPid: process.pid,
        ttl: expect.any(Number),
        fencingToken: lock.fencingToken,
        waiters: 1,
      },
    ]);

    await lock.release();
    const next = await waiting;
    await (next as { release(): Promise<boolean> }).release();
    await Promise.all([holder.app.close(), waiter.app.close()]);
  }, 30_000);

  it('inspect lists every reader and permit holder with the mode and limit, and release --token frees one of them', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix, appName: 'pool' });
    const permits = [await locks.acquire('stripe-api', { limit: 3 }), await locks.acquire('stripe-api', { limit: 3 })];
    const readers = [await locks.acquire('doc:7', { mode: 'read' }), await locks.acquire('doc:7', { mode: 'read' })];
    const writer = locks.acquire('doc:7', { waitTimeout: 20_000 });
    await eventually(async () => (await test.redis.zcard(`${test.prefix}{doc:7}:q`)) === 1, 'the writer is queued');

    const shown = await cli(['inspect', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(shown.stdout).toMatch(/doc:7\s+read \(2\)\s+pool@\S+\s+\d+ ms\s+\d+\s+1\n\s+pool@\S+\s+\d+ ms\n/);
    expect(shown.stdout).toMatch(/stripe-api\s+semaphore 2\/3\s+pool@\S+\s+\d+ ms\s+\d+\s+0\n\s+pool@\S+\s+\d+ ms/);
    const json = JSON.parse((await cli(['inspect', '--json', '--redis', REDIS_URL, '--prefix', test.prefix])).stdout);
    expect(json).toEqual([
      expect.objectContaining({
        key: 'doc:7',
        mode: 'read',
        limit: null,
        waiters: 1,
        holders: expect.arrayContaining(readers.map((r) => expect.objectContaining({ token: r.token }))),
      }),
      expect.objectContaining({
        key: 'stripe-api',
        mode: 'write',
        limit: 3,
        waiters: 0,
        holders: expect.arrayContaining(permits.map((p) => expect.objectContaining({ token: p.token }))),
      }),
    ]);
    expect(json.map((lock: { holders: unknown[] }) => lock.holders.length)).toEqual([2, 2]);

    const ambiguous = await cli(['release', 'stripe-api', '--force', '--yes', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/has 2 holders \(semaphore 2\/3\); name the one to release with --token/);
    const one = await cli([
      'release',
      'stripe-api',
      '--force',
      '--yes',
      '--token',
      permits[0].token,
      '--redis',
      REDIS_URL,
      '--prefix',
      test.prefix,
    ]);
    expect(one.code).toBe(0);
    expect(await permits[0].extend().catch((error: Error) => error.name)).toBe('LockLostError');
    for (const reader of readers) {
      await cli(['release', 'doc:7', '--force', '--yes', '--token', reader.token, '--redis', REDIS_URL, '--prefix', test.prefix]);
    }
    await (await writer).release();
    await permits[1].release();
    await app.close();
  }, 30_000);

  it('release KEY --force asks for confirmation on a terminal, and --yes releases without asking', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const lock = await locks.acquire('stuck', { ttl: 60_000 });

    const declined = await cliOnTerminal(['release', 'stuck', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'n\n');
    expect(declined.stdout).toMatch(/Force-release lock "stuck" held by .*\? \[y\/N\]/);
    expect(declined.stdout).toMatch(/Nothing released/);
    expect(declined.code).toBe(1);
    expect(await locks.isLocked('stuck')).toBe(true);

    const confirmed = await cliOnTerminal(['release', 'stuck', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'y\n');
    expect(confirmed.stdout).toMatch(/Released lock "stuck"/);
    expect(confirmed.code).toBe(0);
    expect(await locks.isLocked('stuck')).toBe(false);

    await locks.acquire('stuck-too');
    const yes = await cli(['release', 'stuck-too', '--force', '--yes', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(yes.stdout).toMatch(/Released lock "stuck-too"/);
    expect(await locks.isLocked('stuck-too')).toBe(false);
    expect(await lock.release()).toBe(false);
    await app.close();
  }, 30_000);

  it('release --force without a terminal and without --yes exits 1 saying nothing was released', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const lock = await locks.acquire('piped', { ttl: 60_000 });
    const piped = await cli(['release', 'piped', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'y\n');
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/Nothing released: .*pass --yes/);
    expect(await locks.isLocked('piped')).toBe(true);
    await lock.release();
    await app.close();
  }, 30_000);

  it('refuses release without --force, and reports an unreachable Redis', async () => {
    const noForce = await cli(['release', 'k', '--redis', REDIS_URL]);
    expect(noForce.code).toBe(2);
    expect(noForce.stderr).toMatch(/release needs a KEY and --force/);
    const unreachable = await cli(['inspect', '--redis', 'redis://:s3cret@127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/nest-lock: .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/s3cret/);
  }, 30_000);
});

describe('the nest-lock CLI against a quorum deployment', () => {
  let nodes: RedisServer[];
  let holder: LockApp;
  let other: LockApp;
  let prefix: string;
  const address = (node: RedisServer): string => `127.0.0.1:${node.port}`;

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer()));
  });

  beforeEach(async () => {
    prefix = uniquePrefix('cli-quorum');
    holder = await bootLockApp({ redis: nodes.map((node) => node.url), prefix });
    other = await bootLockApp({ redis: nodes.map((node) => node.url), prefix });
  });

  afterEach(async () => {
    await Promise.all([holder.app.close(), other.app.close()]);
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('release --force given every node (repeated --redis) releases on each, says so per node, and frees the lock', async () => {
    const lock = await holder.locks.acquire('stuck', { ttl: 60_000 });
    const nodeArgs = nodes.flatMap((node) => ['--redis', node.url]);
    const released = await cli(['release', 'stuck', '--force', '--yes', ...nodeArgs, '--prefix', prefix]);
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
    for (const node of nodes) {
      expect(released.stdout).toMatch(new RegExp(`^  ${address(node)}: released$`, 'm'));
    }
    expect(released.stdout).toMatch(/^Released lock "stuck" on 3 of 3 nodes\.$/m);
    const next = await other.locks.tryAcquire('stuck');
    expect(next).not.toBeNull();
    await next?.release();
    expect(await lock.extend().catch((error: Error) => error.name)).toBe('LockLostError');
  });

  it('release --force given the nodes as a comma list says which held it, and a partly held key is released where it is held', async () => {
    const lock = await holder.locks.acquire('partly', { ttl: 60_000 });
    // Node 2 loses the key (as a node restarted empty does), once its grant, which may come after the majority's, is in.
    const node2 = new Redis(nodes[2].url);
    await eventually(async () => (await node2.get(`${prefix}{partly}`)) === lock.token, 'node 2 has the key');
    await node2.del(`${prefix}{partly}`);
    node2.disconnect();
    const urls = nodes.map((node) => node.url).join(',');
    const released = await cli(['release', 'partly', '--force', '--yes', '--redis', urls, '--prefix', prefix]);
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(new RegExp(`^  ${address(nodes[0])}: released$`, 'm'));
    expect(released.stdout).toMatch(new RegExp(`^  ${address(nodes[2])}: not held there$`, 'm'));
    expect(released.stdout).toMatch(/^Released lock "partly" on 2 of 3 nodes \(the others did not hold it\)\.$/m);
    expect(await other.locks.tryAcquire('partly')).not.toBeNull();
    expect(lock.isHeld).toBe(true);
  });

  it('release --force with a node that does not answer releases on the others and says the lock may still be held', async () => {
    const lock = await holder.locks.acquire('one-down', { ttl: 60_000 });
    const urls = [...nodes.map((node) => node.url), DEAD_REDIS_URL].join(',');
    const released = await cli(['release', 'one-down', '--force', '--yes', '--redis', urls, '--prefix', prefix]);
    expect(released.code).toBe(1);
    expect(released.stdout).toMatch(/^ {2}127\.0\.0\.1:1: did not answer \(cannot reach Redis at 127\.0\.0\.1:1 \(connect ECONNREFUSED/m);
    expect(released.stdout).toMatch(/^Lock "one-down" may still be held: released on 3 of 4 nodes; run release again for the others\.$/m);
    expect(released.stdout).not.toMatch(/^Released lock/m);
    expect(await lock.extend().catch((error: Error) => error.name)).toBe('LockLostError');
  });

  it('release --force given one node of a quorum does not say the lock is released, and the majority still holds it', async () => {
    const lock = await holder.locks.acquire('one-node', { ttl: 60_000 });
    const released = await cli(['release', 'one-node', '--force', '--yes', '--redis', nodes[0].url, '--prefix', prefix]);
    expect(released.code).toBe(0);
    expect(released.stdout).not.toMatch(/^Released lock "one-node"\.?$/m);
    expect(released.stdout).toMatch(new RegExp(`^Released lock "one-node" on ${address(nodes[0])}, the one node given\\.`, 'm'));
    expect(released.stdout).toMatch(/quorum mode.*every node/);
    expect(await other.locks.tryAcquire('one-node')).toBeNull();
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });

  it('inspect given every node lists the locks of each node', async () => {
    const lock = await holder.locks.acquire('shown', { ttl: 60_000 });
    const shown = await cli(['inspect', '--redis', nodes.map((node) => node.url).join(','), '--prefix', prefix]);
    expect(shown.code).toBe(0);
    for (const node of nodes) {
      expect(shown.stdout).toMatch(new RegExp(`^${address(node)}:\\nKEY.*\\nshown\\s+exclusive`, 'm'));
    }
    const json = JSON.parse(
      (await cli(['inspect', '--json', '--redis', nodes.map((node) => node.url).join(','), '--prefix', prefix])).stdout,
    );
    expect(json).toEqual(
      nodes.map((node) => ({ node: address(node), locks: [expect.objectContaining({ key: 'shown', holder: lock.token })] })),
    );
    await lock.release();
  });
});

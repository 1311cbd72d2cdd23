import { spawn } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster6 } from 'ioredis6';
import { LockLostError, LockNotAcquiredError, LockNotReplicatedError, LockStoreUnavailableError, RedisLockStore } from '../../lib';
import { FENCE_BLOCK } from '../../lib/lock.constants';
import { MUTEX_ACQUIRE, RAISE_FENCE } from '../../lib/stores/redis/redis-mutex.scripts';
import { CLUSTER_LOCK_ACL, LOCK_ACL } from '../support/acl';
import { bootLockApp, type LockApp } from '../support/app';
import { expectElectionAndHandOver } from '../support/leadership';
import { cli } from '../support/cli';
import { failingScripts } from '../support/failing-client';
import { eventually, uniquePrefix } from '../support/redis';
import { describeSharedLockStoreConformance } from '../support/lock-store-shares.conformance';
import { startRedisCluster, type RedisClusterFixture, type RedisClusterShard, type RedisServer } from '../support/redis-server';

function redisCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const cli = spawn('redis-cli', args, { stdio: 'ignore' });
    cli.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli ${args.join(' ')} exited with ${code}`))));
  });
}

async function masters(cluster: RedisClusterFixture): Promise<Array<{ port: number; id: string }>> {
  const found: Array<{ port: number; id: string }> = [];
  for (const node of cluster.nodes.filter((candidate) => candidate.process.exitCode === null && candidate.process.signalCode === null)) {
    const client = new Redis(node.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    const info = await client.info('replication').catch(() => '');
    if (/role:master/.test(info) && /cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO').catch(() => '')))) {
      found.push({ port: node.port, id: String(await client.call('CLUSTER', 'MYID')) });
    }
    client.disconnect();
  }
  return found;
}

/**
 * Locks keys spread over every slot range in a loop, doing a non-atomic increment per key inside the lock.
 * @param onLocked told of each key locked, as it happens
 */
async function lockLoop(
  subject: LockApp,
  counter: Cluster,
  until: () => boolean,
  onLocked: (key: string) => void = () => undefined,
): Promise<{ done: number }> {
  let done = 0;
  for (let i = 0; !until() || done === 0; i += 1) {
    const key = `loop:${i % 12}`;
    await subject.locks
      .using(
        key,
        async () => {
          const value = Number((await counter.get(`count:{${key}}`)) ?? '0');
          await counter.set(`count:{${key}}`, String(value + 1));
          done += 1;
          onLocked(key);
        },
        { waitTimeout: 5_000 },
      )
      .catch(() => undefined);
  }
  return { done };
}

async function role(server: RedisServer): Promise<string> {
  const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    const [name] = (await client.call('ROLE')) as [string];
    return name;
  } catch {
    return 'unreachable';
  } finally {
    client.disconnect();
  }
}

/** Waits until a replica has taken over its dead master's slots. */
async function promoted(replica: RedisServer): Promise<void> {
  await eventually(async () => (await role(replica)) === 'master', `the replica on port ${replica.port} is promoted`);
}

/** Kills a master (nothing saved) and waits until its replica has taken over its slots. */
async function failOver(master: RedisServer, replica: RedisServer): Promise<void> {
  await master.stop();
  await promoted(replica);
}

/** A key (`<name>:<n>`) on a shard that still has a live replica: each failover test uses one shard up. */
async function keyWithReplica(cluster: RedisClusterFixture, name: string): Promise<{ key: string } & Required<RedisClusterShard>> {
  for (let i = 0; i < 100; i += 1) {
    const key = `${name}:${i}`;
    const shard = await cluster.shardOf(`lock:{${key}}`);
    if (shard.replica) {
      return { key, master: shard.master, replica: shard.replica };
    }
  }
  throw new Error('no shard has a replica left');
}

/** Waits until a replica has received a key's value. */
async function replicated(replica: RedisServer, redisKey: string, value: string): Promise<void> {
  const client = new Redis(replica.url);
  try {
    await client.call('READONLY');
    await eventually(async () => (await client.get(redisKey)) === value, `the replica has ${redisKey}`);
  } finally {
    client.disconnect();
  }
}

async function shardSubscribers(server: RedisServer, channel: string): Promise<{ sharded: number; classic: number }> {
  const client = new Redis(server.url);
  try {
    const [, sharded] = (await client.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    const [, classic] = (await client.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
    return { sharded, classic };
  } finally {
    client.disconnect();
  }
}

/**
 * A holder and a waiter on `key`, in two apps (inside one app the lock would be passed on without Redis): the
 * waiter listens on the shard that owns the key (sharded pub/sub only) and the release wakes it, long before the
 * holder's lease would have ended.
 * @param channel the channel as Redis sees it (with any client keyPrefix)
 */
async function wakeUpOnShard(
  cluster: RedisClusterFixture,
  [holderApp, app]: [LockApp, LockApp],
  key: string,
  channel = `lock:{${key}}`,
): Promise<void> {
  const holder = await holderApp.locks.acquire(key, { ttl: 60_000 });
  const started = Date.now();
  const waiting = app.locks.acquire(key, { waitTimeout: 30_000 });
  const { master } = await cluster.shardOf(channel);
  await eventually(async () => (await shardSubscribers(master, channel)).sharded === 1, 'the waiter listens on the shard');
  expect((await shardSubscribers(master, channel)).classic).toBe(0);
  await holder.release();
  const next = await waiting;
  expect(Date.now() - started).toBeLessThan(20_000);
  expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
  await next.release();
}

/** {@link wakeUpOnShard} in two apps whose stores use a Cluster client each, made by `connect` (closed afterwards). */
async function wakeUpOnClient(cluster: RedisClusterFixture, connect: () => Cluster, key: string, channel?: string): Promise<void> {
  const clients = [connect(), connect()];
  const stores = clients.map((client) => new RedisLockStore({ client, logger: false }));
  const apps = await Promise.all(stores.map((store) => bootLockApp({ store })));
  try {
    await wakeUpOnShard(cluster, [apps[0], apps[1]], key, channel);
  } finally {
    await Promise.all(apps.map((app) => app.app.close()));
    await Promise.all(stores.map((store) => store.close()));
    clients.forEach((client) => client.disconnect());
  }
}

async function total(counter: Cluster): Promise<number> {
  let sum = 0;
  for (let i = 0; i < 12; i += 1) {
    sum += Number((await counter.get(`count:{loop:${i}}`)) ?? '0');
  }
  return sum;
}

describe('Redis Cluster: 3 masters, 3 replicas', () => {
  let cluster: RedisClusterFixture;
  let subject: LockApp;
  let counter: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    subject = await bootLockApp({ redis: { cluster: cluster.startupNodes }, commandTimeout: 1_000 });
    counter = new Cluster(cluster.startupNodes);
  }, 60_000);

  afterAll(async () => {
    await subject?.app.close();
    counter?.disconnect();
    await cluster?.stop();
  });

  describeSharedLockStoreConformance('RedisLockStore on a Cluster', async () => {
    const client = new Cluster(cluster.startupNodes);
    const store = new RedisLockStore({ client, logger: false, prefix: uniquePrefix('cluster-shares') });
    return {
      store,
      dispose: async () => {
        await store.close();
        client.disconnect();
      },
    };
  });

  it('takes one semaphore permit of keys in different slots all or nothing, and read locks beside a writer', async () => {
    const keys = ['a', 'b', 'order:1'];
    const owners = new Set(await Promise.all(keys.map(async (key) => (await cluster.shardOf(`lock:{${key}}`)).master)));
    expect(owners.size).toBeGreaterThan(1);
    const permits = [await subject.locks.acquire(keys, { limit: 2 }), await subject.locks.acquire(keys, { limit: 2 })];
    await expect(subject.locks.tryAcquire(keys, { limit: 2 })).resolves.toBeNull();
    await expect(subject.locks.tryAcquire('a', { limit: 2 })).resolves.toBeNull();
    await permits[0].release();
    const third = await subject.locks.acquire(keys, { limit: 2, waitTimeout: 0 });
    expect(third.fencingToken).toBeGreaterThan(Math.max(...permits.map((permit) => permit.fencingToken)));
    await Promise.all([permits[1].release(), third.release()]);
    const readers = [await subject.locks.acquire('doc', { mode: 'read' }), await subject.locks.acquire('doc', { mode: 'read' })];
    const writer = subject.locks.acquire('doc', { waitTimeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all(readers.map((reader) => reader.release()));
    await (await writer).release();
  });

  it('locks keys in every slot range, with fencing tokens and wake-up on release', async () => {
    const keys = ['a', 'b', 'c', 'order:1', 'order:2', 'user:42'];
    for (const key of keys) {
      const first = await subject.locks.acquire(key);
      const waiting = subject.locks.acquire(key, { waitTimeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await first.release();
      const second = await waiting;
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      await second.release();
    }
    // Every master ran the scripts, each loading them the first time (NOSCRIPT, then EVAL).
    const owners = new Set(await Promise.all(keys.map(async (key) => (await cluster.shardOf(`lock:{${key}}`)).master)));
    expect(owners.size).toBe(3);
    for (const owner of owners) {
      const client = new Redis(owner.url);
      expect(await client.script('EXISTS', MUTEX_ACQUIRE.sha)).toEqual([1]);
      client.disconnect();
    }
  });

  it('elects a leader among apps, names it for the others, and hands over on resign() with a higher term', async () => {
    const apps = await Promise.all(['a', 'b', 'c'].map((appName) => bootLockApp({ redis: { cluster: cluster.startupNodes }, appName })));
    try {
      await expectElectionAndHandOver(apps.map(({ locks }) => locks.elect('cluster-jobs', { ttl: 3_000, retry: 200 })));
    } finally {
      await Promise.all(apps.map(({ app }) => app.close()));
    }
  });

  it('takes multi-key locks across slots all or nothing, never a CROSSSLOT error', async () => {
    const other = await subject.locks.acquire('b');
    const error = await subject.locks.acquire(['a', 'b', 'c'], { waitTimeout: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    expect(await subject.locks.isLocked('a')).toBe(false);
    expect(await subject.locks.isLocked('c')).toBe(false);
    await other.release();
    const all = await subject.locks.acquire(['a', 'b', 'c']);
    expect(await subject.locks.isLocked(['a'])).toBe(true);
    const alone = await subject.locks.acquire('c', { waitTimeout: 0 }).catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(LockNotAcquiredError);
    expect(await all.release()).toBe(true);
    const again = await subject.locks.acquire('b');
    expect(again.fencingToken).toBeGreaterThan(all.fencingToken);
    await again.release();
  });

  it('gives every key back when the fencing write-back of a multi-key lock across slots fails', async () => {
    const client = failingScripts(
      new Cluster(cluster.startupNodes),
      (script) => script === RAISE_FENCE.sha || script === RAISE_FENCE.source,
    );
    const store = new RedisLockStore({ client, logger: false, commandTimeout: 1_000 });
    const app = await bootLockApp({ store });
    try {
      const error = await app.locks.acquire(['fenced-a', 'fenced-b'], { waitTimeout: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockStoreUnavailableError);
      expect(await subject.locks.isLocked('fenced-a')).toBe(false);
      expect(await subject.locks.isLocked('fenced-b')).toBe(false);
    } finally {
      await app.app.close();
      await store.close();
      client.disconnect();
    }
  });

  it('wakes waiters through sharded pub/sub on the shard that owns the key', async () => {
    const other = await bootLockApp({ redis: { cluster: cluster.startupNodes }, commandTimeout: 1_000 });
    try {
      await wakeUpOnShard(cluster, [other, subject], 'sharded');
    } finally {
      await other.app.close();
    }
  });

  it('wakes waiters through sharded pub/sub on a Cluster client with a keyPrefix', async () => {
    await wakeUpOnClient(cluster, () => new Cluster(cluster.startupNodes, { keyPrefix: 'app:' }), 'prefixed', 'app:lock:{prefixed}');
  });

  it('wakes waiters through sharded pub/sub on an ioredis 6 Cluster client', async () => {
    await wakeUpOnClient(cluster, () => new Cluster6(cluster.startupNodes) as unknown as Cluster, 'ioredis6');
  });

  it('works as an ACL user limited to what the README lists for a Cluster', async () => {
    for (const node of cluster.nodes) {
      const admin = new Redis(node.url);
      await admin.call('ACL', 'SETUSER', 'nest-lock', ...LOCK_ACL, ...CLUSTER_LOCK_ACL);
      admin.disconnect();
    }
    const user = { username: 'nest-lock', password: 'lock-user-password' };
    const limited = await Promise.all(
      [0, 1].map(() => bootLockApp({ redis: { cluster: cluster.startupNodes, clusterOptions: { redisOptions: user } } })),
    );
    try {
      await wakeUpOnShard(cluster, [limited[0], limited[1]], 'acl');
    } finally {
      await Promise.all(limited.map((app) => app.app.close()));
    }
  });

  it('lets the CLI list locks on every master and force-release one, given any node', async () => {
    const held = await Promise.all(
      ['a', 'b', 'c', 'order:1', 'order:2', 'user:42'].map((key) => subject.locks.acquire(key, { ttl: 60_000 })),
    );
    try {
      const shown = await cli(['inspect', '--json', '--redis', cluster.nodes[0].url]);
      expect(shown.stderr).toBe('');
      expect(JSON.parse(shown.stdout)).toEqual(
        held
          .map((lock) => ({
            key: lock.keys[0],
            mode: 'write',
            limit: 1,
            holders: [expect.objectContaining({ token: lock.token, pid: process.pid })],
            holder: lock.token,
            holderApp: expect.any(String),
            holderHost: expect.any(String),
            holderPid: process.pid,
            ttl: expect.any(Number),
            fencingToken: lock.fencingToken,
            waiters: 0,
          }))
          .sort((x, y) => x.key.localeCompare(y.key)),
      );
      const released = await cli(['release', 'user:42', '--force', '--yes', '--redis', cluster.nodes[1].url]);
      expect(released.stdout).toMatch(/Released lock "user:42"/);
      expect(await subject.locks.isLocked('user:42')).toBe(false);
    } finally {
      await Promise.all(held.map((lock) => lock.release()));
    }
  }, 30_000);

  it('loses nothing while slots migrate between masters (MOVED/ASK)', async () => {
    const [from, to] = await masters(cluster);
    let migrating = true;
    const loop = lockLoop(subject, counter, () => !migrating);
    await redisCli([
      '--cluster',
      'reshard',
      `127.0.0.1:${from.port}`,
      '--cluster-from',
      from.id,
      '--cluster-to',
      to.id,
      '--cluster-slots',
      '1500',
      '--cluster-yes',
    ]);
    migrating = false;
    const { done } = await loop;
    expect(done).toBeGreaterThan(0);
    expect(await total(counter)).toBe(done);
  }, 60_000);

  it("waits for the replica of the key's own shard with the replicas option", async () => {
    const replicated = await bootLockApp({ redis: { cluster: cluster.startupNodes }, replicas: { count: 1, timeoutMs: 300 } });
    const { replica } = await cluster.shardOf('lock:{replicated}');
    const replicaClient = new Redis((replica as RedisServer).url);
    try {
      await replicaClient.call('READONLY');
      const lock = await replicated.locks.acquire('replicated');
      expect(await replicaClient.get('lock:{replicated}')).toBe(lock.token);
      await lock.release();
      replica?.freeze();
      // Other shards' replicas are fine: only this key's replica counts.
      const error = await replicated.locks.acquire('replicated').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockNotReplicatedError);
      expect(await replicated.locks.isLocked('replicated')).toBe(false);
    } finally {
      replica?.thaw();
      replicaClient.disconnect();
      await replicated.app.close();
    }
  });

  it('carries on after a master is killed and its replica promoted', async () => {
    const { master, replica } = await cluster.shardOf('lock:{loop:0}');
    let promoted = false;
    const lockedAfterFailover = new Set<string>();
    let stop = false;
    let before = 0;
    const loop = lockLoop(
      subject,
      counter,
      () => stop,
      (key) => (promoted ? lockedAfterFailover.add(key) : (before += 1)),
    );
    await eventually(() => before >= 24, 'the loop is going');
    await failOver(master, replica as RedisServer);
    promoted = true;
    // Every key, including those whose master died, is locked again on the new topology.
    await eventually(() => lockedAfterFailover.size === 12, 'every key is locked after the failover', 30_000);
    stop = true;
    await loop;
  }, 60_000);

  it("a failover can lose a held lock: the holder's signal aborts and the next holder gets a higher fencing token", async () => {
    const { key, master, replica } = await keyWithReplica(cluster, 'fenced');
    const other = await bootLockApp({ redis: { cluster: cluster.startupNodes }, commandTimeout: 1_000 });
    const masterClient = new Redis(master.url);
    try {
      const earlier = await subject.locks.acquire(key);
      await earlier.release();
      // The counter holds the end of the grant's block of fencing tokens.
      await replicated(replica, `lock:{${key}}:fence`, String(earlier.fencingToken + FENCE_BLOCK - 1));
      // From here the replica misses every write: frozen, and its link closed by the master.
      replica.freeze();
      await masterClient.call('CLIENT', 'KILL', 'TYPE', 'replica');
      const held = await subject.locks.acquire(key, { ttl: 3_000 });
      expect(held.fencingToken).toBeGreaterThan(earlier.fencingToken);
      masterClient.disconnect();
      // The master dies first: thawed while it lived, the replica would reconnect and catch up.
      await master.stop();
      replica.thaw();
      await promoted(replica);
      // The promoted replica never saw `held`: the lock is free there, and its fencing counter is behind.
      const next = await other.locks.acquire(key, { waitTimeout: 10_000 });
      expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
      await eventually(() => held.signal.aborted, 'the first holder learns it lost the lock', 10_000);
      expect(held.signal.reason).toBeInstanceOf(LockLostError);
      await next.release();
    } finally {
      replica.thaw();
      masterClient.disconnect();
      await other.app.close();
    }
  }, 60_000);

  it('retries a release the dying master did not answer, so the key is free after the failover, not at the lease end', async () => {
    const { key, master, replica } = await keyWithReplica(cluster, 'retried');
    // ioredis re-sends a command whose node connection closed for a while on its own; switched off here, so
    // that only nest-lock's retry can free the key.
    const clusterOptions = { retryDelayOnFailover: 0, retryDelayOnClusterDown: 0 };
    const holder = await bootLockApp({ redis: { cluster: cluster.startupNodes, clusterOptions }, commandTimeout: 1_000 });
    const other = await bootLockApp({ redis: { cluster: cluster.startupNodes }, commandTimeout: 1_000 });
    try {
      const lock = await holder.locks.acquire(key, { ttl: 30_000 });
      let released = false;
      holder.locks.events.subscribe((event) => (released ||= event.type === 'released' && event.token === lock.token));
      await replicated(replica, `lock:{${key}}`, lock.token);
      await master.stop();
      await expect(lock.release()).rejects.toBeInstanceOf(LockStoreUnavailableError);
      await failOver(master, replica);
      // The promoted replica has the lock with most of its 30 s lease left: only the retried release frees it.
      const next = await other.locks.acquire(key, { waitTimeout: 10_000 });
      expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      await eventually(() => released, 'the holder reports the release', 5_000);
      await next.release();
    } finally {
      await Promise.all([holder.app.close(), other.app.close()]);
    }
  }, 60_000);
});

describe('Redis Cluster whose servers lack sharded pub/sub (as before Redis 7)', () => {
  let cluster: RedisClusterFixture;
  let subject: LockApp;

  beforeAll(async () => {
    const disabled = ['SPUBLISH', 'SSUBSCRIBE', 'SUNSUBSCRIBE'].flatMap((command) => ['--rename-command', command, '']);
    cluster = await startRedisCluster({ replicas: 0, args: disabled });
    subject = await bootLockApp({ redis: { cluster: cluster.startupNodes } });
  }, 60_000);

  afterAll(async () => {
    await subject?.app.close();
    await cluster?.stop();
  });

  it('falls back to classic pub/sub to wake waiters', async () => {
    // A holder in another app: inside one app, the lock would be passed on without Redis.
    const other = await bootLockApp({ redis: { cluster: cluster.startupNodes } });
    const holder = await other.locks.acquire('classic', { ttl: 60_000 });
    const started = Date.now();
    const waiting = subject.locks.acquire('classic', { waitTimeout: 30_000 });
    const classicSubscribers = async (): Promise<number> => {
      let sum = 0;
      for (const node of cluster.nodes) {
        sum += (await shardSubscribers(node, 'lock:{classic}')).classic;
      }
      return sum;
    };
    await eventually(async () => (await classicSubscribers()) === 1, 'the waiter listens on classic pub/sub');
    await holder.release();
    const next = await waiting;
    // Woken by the release, not by the holder's lease running out (60 s).
    expect(Date.now() - started).toBeLessThan(20_000);
    await next.release();
    await other.app.close();
  });
});

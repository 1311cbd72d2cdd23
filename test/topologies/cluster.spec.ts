import { spawn } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { LockNotAcquiredError } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisCluster, type RedisClusterFixture } from '../support/redis-server';

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

/** Locks keys spread over every slot range in a loop, doing a non-atomic increment per key inside the lock. */
async function lockLoop(subject: LockApp, counter: Cluster, until: () => boolean): Promise<{ done: number }> {
  let done = 0;
  for (let i = 0; !until() || done === 0; i += 1) {
    const key = `loop:${i % 12}`;
    await subject.locks
      .using(key, async () => {
        const value = Number((await counter.get(`count:{${key}}`)) ?? '0');
        await counter.set(`count:{${key}}`, String(value + 1));
        done += 1;
      }, { waitTimeout: 5_000 })
      .catch(() => undefined);
  }
  return { done };
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

  it('locks keys in every slot range, with fencing tokens and wake-up on release', async () => {
    for (const key of ['a', 'b', 'c', 'order:1', 'order:2', 'user:42']) {
      const first = await subject.locks.acquire(key);
      const waiting = subject.locks.acquire(key, { waitTimeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await first.release();
      const second = await waiting;
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      await second.release();
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

  it('loses nothing while slots migrate between masters (MOVED/ASK)', async () => {
    const [from, to] = await masters(cluster);
    let migrating = true;
    const loop = lockLoop(subject, counter, () => !migrating);
    await redisCli(['--cluster', 'reshard', `127.0.0.1:${from.port}`, '--cluster-from', from.id, '--cluster-to', to.id, '--cluster-slots', '1500', '--cluster-yes']);
    migrating = false;
    const { done } = await loop;
    expect(done).toBeGreaterThan(0);
    expect(await total(counter)).toBe(done);
  }, 60_000);
});

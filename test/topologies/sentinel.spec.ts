import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { bootLockApp, type LockApp } from '../support/app';
import { expectElectionAndHandOver } from '../support/leadership';
import { eventually } from '../support/redis';
import { freePort, startRedisServer, waitForReplicaSync, type RedisServer } from '../support/redis-server';

async function startSentinel(dir: string, masterPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, `sentinel-${port}.conf`);
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 5000',
      'sentinel parallel-syncs mymaster 1',
    ].join('\n'),
  );
  const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  for (let i = 0; i < 100; i += 1) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch {
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  client.disconnect();
  return { port, child };
}

describe('Sentinel: 1 master, 1 replica, 3 sentinels', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let dir: string;
  let sentinels: Array<{ port: number; child: ChildProcess }>;
  let subject: LockApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nest-lock-sentinel-'));
    master = await startRedisServer(['--repl-diskless-sync-delay', '0']);
    replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync-delay', '0']);
    await waitForReplicaSync(replica.url);
    sentinels = await Promise.all([1, 2, 3].map(() => startSentinel(dir, master.port)));
    const sentinel = new Redis({ port: sentinels[0].port });
    await eventually(async () => {
      const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', 'mymaster')) as unknown[];
      const known = (await sentinel.call('SENTINEL', 'SENTINELS', 'mymaster')) as unknown[];
      return replicas.length === 1 && known.length === 2;
    }, 'the sentinels know the replica and each other');
    sentinel.disconnect();
    subject = await bootLockApp({
      redis: { sentinels: sentinels.map(({ port }) => ({ host: '127.0.0.1', port })), name: 'mymaster' },
      commandTimeout: 500,
      ttl: 3_000,
    });
  }, 60_000);

  afterAll(async () => {
    await subject?.app.close();
    for (const { child } of sentinels ?? []) {
      child.kill('SIGKILL');
    }
    await replica?.stop();
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries on locking after a SENTINEL FAILOVER in the middle of a lock loop', async () => {
    const sentinel = new Redis({ port: sentinels[0].port });
    const masterPort = async (): Promise<string> =>
      ((await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as string[])[1];
    expect(await masterPort()).toBe(String(master.port));

    let done = 0;
    let failed = 0;
    let failedOver = false;
    const loop = (async () => {
      const end = Date.now() + 20_000;
      while (Date.now() < end && !(failedOver && done > 20)) {
        try {
          const lock = await subject.locks.acquire('sentinel-loop', { waitTimeout: 2_000 });
          await lock.release();
          done += failedOver ? 1 : 0;
        } catch {
          failed += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sentinel.call('SENTINEL', 'FAILOVER', 'mymaster');
    await eventually(async () => (await masterPort()) === String(replica.port), 'the sentinels report the replica as master');
    failedOver = true;
    await loop;
    sentinel.disconnect();
    expect(done).toBeGreaterThan(20);
    // Some calls may fail while the roles switch; afterwards every call works again.
    const lock = await subject.locks.acquire('after-failover');
    expect(lock.isHeld).toBe(true);
    await lock.release();
    expect(failed).toBeLessThan(50);
  }, 60_000);

  it('elects a leader among apps on the master it finds through the sentinels, and hands over on resign()', async () => {
    const redis = { sentinels: sentinels.map(({ port }) => ({ host: '127.0.0.1', port })), name: 'mymaster' };
    const apps = await Promise.all(['a', 'b'].map((appName) => bootLockApp({ redis, appName, commandTimeout: 500 })));
    try {
      await expectElectionAndHandOver(apps.map(({ locks }) => locks.elect('sentinel-jobs', { ttl: 3_000, retry: 200 })));
    } finally {
      await Promise.all(apps.map(({ app }) => app.close()));
    }
  });
});

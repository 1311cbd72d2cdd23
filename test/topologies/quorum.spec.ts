import { Redis } from 'ioredis';
import { LockNotAcquiredError, LockStoreUnavailableError, QuorumLockStore } from '../../lib';
import { runWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

async function startNodes(count: number): Promise<RedisServer[]> {
  return Promise.all(Array.from({ length: count }, () => startRedisServer()));
}

describe('Redlock quorum over independent masters', () => {
  describe('3 nodes', () => {
    let nodes: RedisServer[];
    let clients: Redis[];
    let subject: LockApp;

    beforeAll(async () => {
      nodes = await startNodes(3);
      clients = nodes.map((node) => new Redis(node.url));
      subject = await bootLockApp({ redis: nodes.map((node) => node.url), commandTimeout: 300, ttl: 5_000 });
    });

    afterAll(async () => {
      nodes.forEach((node) => node.thaw());
      await subject.app.close();
      clients.forEach((client) => client.disconnect());
      await Promise.all(nodes.map((node) => node.stop()));
    });

    it('uses the quorum store for an array of URLs', () => {
      expect(subject.app.get('lock:store')).toBeInstanceOf(QuorumLockStore);
    });

    it('keeps 4 processes x 50 read-modify-write sections exact', async () => {
      const urls = nodes.map((node) => node.url).join(',');
      const results = await Promise.all([1, 2, 3, 4].map(() => runWorker('counter', [urls, 'quorum:', 'quorum:counter-value', '50'])));
      expect(results).toEqual(Array(4).fill({ code: 0, output: '' }));
      expect(await clients[0].get('quorum:counter-value')).toBe('200');
    }, 120_000);

    it('keeps working, within a bounded latency, with one node frozen', async () => {
      nodes[2].freeze();
      const started = Date.now();
      const lock = await subject.locks.acquire('one-down');
      expect(await lock.release()).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      nodes[2].thaw();
    });

    it('fails with "quorum not reached" (not busy) with two nodes frozen, and works again after', async () => {
      nodes[1].freeze();
      nodes[2].freeze();
      const error = await subject.locks.acquire('two-down', { waitTimeout: 500 }).catch((e: unknown) => e);
      nodes[1].thaw();
      nodes[2].thaw();
      expect(error).toBeInstanceOf(LockStoreUnavailableError);
      expect(error).not.toBeInstanceOf(LockNotAcquiredError);
      expect((error as Error).message).toMatch(/quorum not reached: 1 of 3 Redis nodes answered, 2 needed/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const lock = await subject.locks.acquire('two-down', { waitTimeout: 2_000 });
      await lock.release();
    });

    it('rolls back a failed round on every node: no orphan key', async () => {
      await clients[0].set('lock:{contested}', 'someone-else', 'PX', 5_000);
      await clients[1].set('lock:{contested}', 'someone-else', 'PX', 5_000);
      const error = await subject.locks.acquire('contested', { waitTimeout: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await clients[2].exists('lock:{contested}')).toBe(0);
      await Promise.all(clients.map((client) => client.del('lock:{contested}')));
    });

    it('issues a higher token from a majority that shares only one node with the previous one (write-back)', async () => {
      // Node 0's counter is far ahead: only it can make the first token that high.
      const ahead = 9_000_000_000_000_000;
      await clients[0].set('lock:{overlap}:fence', String(ahead));
      nodes[2].freeze();
      const first = await subject.locks.acquire('overlap');
      await first.release();
      nodes[2].thaw();
      nodes[0].freeze();
      const second = await subject.locks.acquire('overlap', { waitTimeout: 2_000 });
      await second.release();
      nodes[0].thaw();
      expect(first.fencingToken).toBeGreaterThan(ahead);
      // Majority {1, 2} knows nothing of node 0; node 1 learnt the first token when it was written back.
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    });

    it('keeps fencing tokens increasing when minority nodes restart empty between acquisitions', async () => {
      const tokens: number[] = [];
      for (const restarted of [0, 1, 2, 0]) {
        const lock = await subject.locks.acquire('fenced', { waitTimeout: 3_000 });
        tokens.push(lock.fencingToken);
        await lock.release();
        await nodes[restarted].restart();
      }
      const last = await subject.locks.acquire('fenced', { waitTimeout: 3_000 });
      tokens.push(last.fencingToken);
      await last.release();
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
      expect(new Set(tokens).size).toBe(tokens.length);
    }, 30_000);
  });

  it('reports nodes up and the quorum in its health check', async () => {
    const nodes = await startNodes(3);
    const subject = await bootLockApp({ redis: nodes.map((node) => node.url), commandTimeout: 300 });
    nodes[0].freeze();
    const store = subject.app.get<QuorumLockStore>('lock:store');
    expect(await store.nodesUp()).toEqual({ up: 2, total: 3, quorum: 2 });
    await expect(store.ping()).resolves.toBeUndefined();
    nodes[0].thaw();
    await subject.app.close();
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('works on 5 nodes with two frozen', async () => {
    const nodes = await startNodes(5);
    const subject = await bootLockApp({ redis: nodes.map((node) => node.url), commandTimeout: 300 });
    nodes[3].freeze();
    nodes[4].freeze();
    const lock = await subject.locks.acquire('five');
    expect(lock.isHeld).toBe(true);
    expect(await lock.release()).toBe(true);
    nodes.forEach((node) => node.thaw());
    await subject.app.close();
    await Promise.all(nodes.map((node) => node.stop()));
  }, 30_000);
});

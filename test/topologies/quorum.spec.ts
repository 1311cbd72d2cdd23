import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidLockOptionsError,
  LockLostError,
  LockNotAcquiredError,
  LockStoreUnavailableError,
  QuorumLockStore,
  RedisLockStore,
  type LockStore,
} from '../../lib';
import { runWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { eventually } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/** A client whose script replies come back `ms` late (a slow node, a long round trip). */
function delayedScripts(url: string, ms: number): Redis {
  const client = new Redis(url);
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if ((property === 'evalsha' || property === 'eval') && typeof value === 'function') {
        return async (...args: unknown[]) => {
          const reply: unknown = await (value as (...rest: unknown[]) => Promise<unknown>).apply(target, args);
          await sleep(ms);
          return reply;
        };
      }
      return typeof value === 'function' ? (value as (...rest: unknown[]) => unknown).bind(target) : value;
    },
  });
}

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

    it('refuses semaphores and read locks at the call with an InvalidLockOptionsError that names quorum mode', async () => {
      await expect(subject.locks.acquire('permits', { limit: 3 })).rejects.toThrow(InvalidLockOptionsError);
      await expect(subject.locks.using('doc', () => 'read', { mode: 'read' })).rejects.toThrow(/mode 'read'.*quorum mode/);
      await expect(subject.locks.tryAcquire('permits', { limit: 3 })).rejects.toThrow(/limit needs a store.*quorum mode/);
      expect(await subject.locks.isLocked(['permits', 'doc'])).toBe(false);
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
      expect((error as Error).message).toMatch(
        /quorum not reached: 1 of 3 Redis nodes answered( within one command timeout \(300 ms\))?, 2 needed/,
      );
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

    it('reports a round that outlived the lock’s validity as unavailable, not busy, and leaves no key', async () => {
      nodes[0].freeze();
      nodes[1].freeze();
      const thaw = setTimeout(() => nodes.forEach((node) => node.thaw()), 200);
      const error = await subject.locks.acquire('slow-round', { ttl: 100, waitTimeout: 0 }).catch((e: unknown) => e);
      clearTimeout(thaw);
      nodes.forEach((node) => node.thaw());
      expect(error).toBeInstanceOf(LockStoreUnavailableError);
      expect((error as Error).message).toMatch(
        /quorum not reached: 1 of 3 Redis nodes answered within the lock's validity \(97 ms\), 2 needed/,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await Promise.all(clients.map((client) => client.exists('lock:{slow-round}')))).toEqual([0, 0, 0]);
    });

    it('ends a split round with one node frozen by the lock’s validity, not by the frozen node’s command timeout', async () => {
      await clients[0].set('lock:{split}', 'someone-else', 'PX', 5_000);
      nodes[1].freeze();
      const started = Date.now();
      const error = await subject.locks.acquire('split', { ttl: 100, waitTimeout: 0 }).catch((e: unknown) => e);
      const took = Date.now() - started;
      nodes[1].thaw();
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      // commandTimeout is 300 ms here; the lock would have been valid for under 100 ms anyway.
      expect(took).toBeLessThan(250);
      await clients[0].del('lock:{split}');
    });

    it('never rejects an acquire with autoExtend off with LockLostError, however slowly extensions answer', async () => {
      const quorum = subject.app.get<QuorumLockStore>('lock:store');
      const slow: LockStore = {
        acquire: (keys, token, ttl) => quorum.acquire(keys, token, ttl),
        release: (...args) => quorum.release(...args),
        isLocked: (...args) => quorum.isLocked(...args),
        drift: (ttl) => quorum.drift(ttl),
        extend: async (keys, token, ttl) => {
          const extended = await quorum.extend(keys, token, ttl);
          await new Promise((resolve) => setTimeout(resolve, 300));
          return extended;
        },
      };
      const app = await bootLockApp({ store: slow });
      try {
        const lock = await app.locks.acquire('fixed-lease', { ttl: 200, autoExtend: false });
        expect(lock.isHeld).toBe(true);
        expect(lock.expiresAt).toBeLessThanOrEqual(Date.now() + 200 - 4);
        await lock.release();
      } finally {
        await app.app.close();
      }
    });

    it('counts an extension’s lease locally with the clock drift deducted', async () => {
      const lock = await subject.locks.acquire('drift', { ttl: 10_000, autoExtend: false });
      await lock.extend(10_000);
      // Redlock's drift for a 10 s ttl: 1% + 2 ms = 102 ms.
      expect(lock.expiresAt).toBeLessThanOrEqual(Date.now() + 10_000 - 102);
      await lock.release();
    });

    it('extends a lock whose key one node lost, and puts the key back on that node', async () => {
      const lock = await subject.locks.acquire('lost-on-one', { autoExtend: false });
      await clients[0].del('lock:{lost-on-one}');
      await lock.extend();
      expect(lock.isHeld).toBe(true);
      // Put back when that node answers, which may be after the majority decided.
      await eventually(async () => (await clients[0].get('lock:{lost-on-one}')) === lock.token, 'node 0 has the key again', 2_000);
      await lock.release();
    });

    it('never lets the clean-up of an attempt cut at the lock’s validity delete a later attempt’s grant of the same wait', async () => {
      const store = subject.app.get<LockStore>('lock:store');
      nodes[1].freeze();
      nodes[2].freeze();
      // A ttl below the command timeout (300 ms): the round is cut at the validity, the frozen nodes still owe answers.
      await expect(store.acquire(['cut'], 'wait-1', 100)).rejects.toBeInstanceOf(LockStoreUnavailableError);
      // The same wait tries again (same token) while the first attempt's commands are still queued on the frozen nodes.
      const retry = store.acquire(['cut'], 'wait-1', 5_000);
      await sleep(30);
      nodes[1].thaw();
      nodes[2].thaw();
      expect(await retry).toMatchObject({ acquired: true });
      // Past the first attempt's command timeout: nothing of it may reach a node after the retry's grant.
      await sleep(500);
      expect(await Promise.all(clients.map((client) => client.get('lock:{cut}')))).toEqual(['wait-1', 'wait-1', 'wait-1']);
      await store.release(['cut'], 'wait-1');
    });

    it('never puts a key back on a node after the lock’s release, when an extension answered late there', async () => {
      const store = subject.app.get<LockStore>('lock:store');
      const granted = await store.acquire(['late-extend'], 'holder-1', 5_000);
      expect(granted.acquired).toBe(true);
      // Node 2 lost the key (restarted empty), and answers late: its answer to the extension comes after the release.
      await clients[2].del('lock:{late-extend}');
      nodes[2].freeze();
      expect(await store.extend(['late-extend'], 'holder-1', 5_000)).toBe(true);
      expect(await store.release(['late-extend'], 'holder-1')).toBe(true);
      nodes[2].thaw();
      await sleep(300);
      expect(await Promise.all(clients.map((client) => client.exists('lock:{late-extend}')))).toEqual([0, 0, 0]);
    });

    it('reports the lock lost when a majority of nodes holds someone else’s value, and leaves those values alone', async () => {
      const lock = await subject.locks.acquire('taken-by-majority', { autoExtend: false });
      await clients[0].set('lock:{taken-by-majority}', 'someone-else', 'PX', 5_000);
      await clients[1].set('lock:{taken-by-majority}', 'someone-else', 'PX', 5_000);
      await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
      expect(lock.signal.aborted).toBe(true);
      expect(await lock.release()).toBe(false);
      expect(await clients[0].get('lock:{taken-by-majority}')).toBe('someone-else');
      expect(await clients[1].get('lock:{taken-by-majority}')).toBe('someone-else');
      await Promise.all(clients.map((client) => client.del('lock:{taken-by-majority}')));
    });

    it('never touches a foreign value without expiry on one node: not on acquire, extend or release', async () => {
      await clients[0].set('lock:{foreign}', 'not-ours');
      const lock = await subject.locks.acquire('foreign', { autoExtend: false });
      await lock.extend();
      expect(await lock.release()).toBe(true);
      expect(await clients[0].get('lock:{foreign}')).toBe('not-ours');
      expect(await clients[0].pttl('lock:{foreign}')).toBe(-1);
      await clients[0].del('lock:{foreign}');
    });

    it('keeps a lock held while its nodes restart empty one at a time, another app’s failed attempt on the fresh node included', async () => {
      const holder = await bootLockApp({ redis: nodes.map((node) => node.url), commandTimeout: 1_000 });
      const other = await bootLockApp({ redis: nodes.map((node) => node.url), commandTimeout: 1_000 });
      const connected = async (app: LockApp): Promise<void> => {
        const store = app.app.get<QuorumLockStore>('lock:store');
        await eventually(async () => (await store.nodesUp()).up === nodes.length, 'the app is connected to every node');
      };
      const lock = await holder.locks.acquire('rolling', { ttl: 3_000 });
      const stillHeld = (): void => {
        if (lock.signal.aborted) {
          throw new Error(`the lock was lost: ${String(lock.signal.reason)}`);
        }
      };
      try {
        for (const [index, node] of nodes.entries()) {
          await node.restart();
          await Promise.all([connected(holder), connected(other)]);
          // The fresh node answers the other app's attempt only after the other nodes refused it, so that the attempt
          // and its roll-back queue up together on a node that knows none of the scripts yet: the attempt used to be
          // resent whole after NOSCRIPT, behind its roll-back, and left a key of the other app's (its 30 s ttl) that
          // kept the holder from putting its own back.
          node.freeze();
          const refused = await other.locks.tryAcquire('rolling');
          node.thaw();
          expect(refused).toBeNull();
          // The holder's next watchdog extension (every ttl/3) finds the key gone there and puts it back.
          await eventually(
            async () => (await clients[index].get('lock:{rolling}')) === lock.token,
            `node ${index} has the key again`,
            5_000,
          ).catch(async (error: Error) => {
            const [value, pttl] = await Promise.all([clients[index].get('lock:{rolling}'), clients[index].pttl('lock:{rolling}')]);
            throw new Error(`${error.message}: it holds ${value} (pttl ${pttl}), the holder is ${lock.token}`);
          });
          stillHeld();
          expect(await other.locks.tryAcquire('rolling')).toBeNull();
        }
        expect(lock.isHeld).toBe(true);
      } finally {
        await lock.release();
        await Promise.all([holder.app.close(), other.app.close()]);
      }
    }, 60_000);

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

  it('ends an attempt (the majority’s answers and the fencing write-back together) within one command timeout', async () => {
    const servers = await startNodes(3);
    const slow = servers.slice(1).map((server) => delayedScripts(server.url, 300));
    const nodes = [
      new RedisLockStore({ client: new Redis(servers[0].url), ownsClient: true, commandTimeout: 400, logger: false }),
      ...slow.map((client) => new RedisLockStore({ client, ownsClient: true, commandTimeout: 400, logger: false })),
    ];
    const store = new QuorumLockStore(nodes);
    try {
      const started = performance.now();
      // Two of three nodes answer each script in 300 ms: a majority grants after 300 ms, and writes the fence back
      // in 300 more; the attempt must not take both.
      const outcome = await store.acquire(['slow'], 'slow-1', 10_000).catch((error: unknown) => error);
      const took = performance.now() - started;
      expect(took).toBeLessThan(550);
      expect(outcome).toBeInstanceOf(LockStoreUnavailableError);
    } finally {
      await store.close();
      await Promise.all(servers.map((server) => server.stop()));
    }
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

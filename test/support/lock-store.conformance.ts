import { setTimeout as sleep } from 'node:timers/promises';
import type { LockReleaseWatch, LockStore } from '../../lib';
import { describeSharedLockStoreConformance } from './lock-store-shares.conformance';

/** A fresh store and a function that frees it. */
export interface StoreUnderTest {
  store: LockStore;
  dispose: () => Promise<void>;
}

/** What a store under test offers beyond exclusive locks. */
export interface StoreCapabilities {
  /** Waiters queue in the store, FIFO, with hand-off and bounded barging. @default true */
  queues?: boolean;
  /** Semaphores and read-write locks (`shares`). @default true */
  shares?: boolean;
}

/**
 * The behaviour every LockStore must have. Called by each store's spec with a factory for a fresh store.
 * @param create returns a store with an empty namespace (with the given starvation bound), and a function that frees it
 * @param capabilities what the store offers beyond exclusive locks (the quorum store neither queues nor shares)
 */
export function describeLockStoreConformance(
  name: string,
  create: (options?: { starvation?: number }) => Promise<StoreUnderTest>,
  { queues = true, shares = true }: StoreCapabilities = {},
): void {
  const queued = queues ? it : it.skip;
  if (shares) {
    describeSharedLockStoreConformance(name, () => create());
  }
  describe(`${name} conformance`, () => {
    let store: LockStore;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ store, dispose } = await create());
    });

    afterEach(async () => {
      await dispose();
    });

    it(shares ? 'says it takes shared holds' : 'says it takes exclusive locks only, so the service refuses limit and mode', () => {
      expect(store.shares === true).toBe(shares);
    });

    it('grants a free key and refuses it to a second token while held', async () => {
      await expect(store.acquire(['a'], 't1', 1000)).resolves.toMatchObject({ acquired: true });
      const second = await store.acquire(['a'], 't2', 1000);
      expect(second.acquired).toBe(false);
      expect(await store.isLocked(['a'])).toBe(true);
    });

    it('reports how long the blocking lease still runs', async () => {
      await store.acquire(['a'], 't1', 1000);
      const second = await store.acquire(['a'], 't2', 1000);
      expect(second.acquired).toBe(false);
      const retryAfter = second.acquired ? 0 : (second.retryAfter ?? -1);
      expect(retryAfter).toBeGreaterThan(800);
      expect(retryAfter).toBeLessThanOrEqual(1000);
    });

    it('frees a key when its lease runs out', async () => {
      await store.acquire(['a'], 't1', 50);
      await sleep(80);
      expect(await store.isLocked(['a'])).toBe(false);
      await expect(store.acquire(['a'], 't2', 1000)).resolves.toMatchObject({ acquired: true });
    });

    it('issues strictly increasing fencing tokens across holders, releases and expiry', async () => {
      const tokens: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const result = await store.acquire(['a'], `t${i}`, 30);
        if (!result.acquired) throw new Error('expected to acquire');
        tokens.push(result.fencingToken);
        if (i % 2 === 0) {
          await store.release(['a'], `t${i}`);
        } else {
          await sleep(50);
        }
      }
      expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      expect(new Set(tokens).size).toBe(tokens.length);
      expect(tokens.every(Number.isSafeInteger)).toBe(true);
    });

    it('releases only for the owning token', async () => {
      await store.acquire(['a'], 't1', 1000);
      expect(await store.release(['a'], 't2')).toBe(false);
      expect(await store.isLocked(['a'])).toBe(true);
      expect(await store.release(['a'], 't1')).toBe(true);
      expect(await store.isLocked(['a'])).toBe(false);
      expect(await store.release(['a'], 't1')).toBe(false);
    });

    it('names the token of the exclusive holder, and nobody once the key is released or has expired', async () => {
      const holder = (key: string): Promise<string | undefined> => (store.holder as NonNullable<LockStore['holder']>).call(store, key);
      expect(typeof store.holder).toBe('function');
      expect(await holder('a')).toBeUndefined();
      await store.acquire(['a'], 'app@host:1/t1', 1000);
      expect(await holder('a')).toBe('app@host:1/t1');
      await store.release(['a'], 'app@host:1/t1');
      expect(await holder('a')).toBeUndefined();
      await store.acquire(['a'], 't2', 40);
      await sleep(70);
      expect(await holder('a')).toBeUndefined();
    });

    it('keeps a released key for keepFor ms (a minimum hold), then lets it expire', async () => {
      await store.acquire(['a'], 't1', 5000);
      expect(await store.release(['a'], 't1', { keepFor: 150 })).toBe(true);
      expect((await store.acquire(['a'], 't2', 1000)).acquired).toBe(false);
      await sleep(220);
      expect((await store.acquire(['a'], 't2', 1000)).acquired).toBe(true);
    });

    it('never keeps or shortens a key another token holds when asked to keep it', async () => {
      await store.acquire(['a'], 'owner', 5000);
      expect(await store.release(['a'], 'stranger', { keepFor: 60_000 })).toBe(false);
      await sleep(50);
      expect(await store.release(['a'], 'owner')).toBe(true);
      expect(await store.isLocked(['a'])).toBe(false);
    });

    it('extends only for the owning token and never re-creates an expired key', async () => {
      await store.acquire(['a'], 't1', 60);
      expect(await store.extend(['a'], 't2', 1000)).toBe(false);
      expect(await store.extend(['a'], 't1', 150)).toBe(true);
      await sleep(100);
      expect(await store.isLocked(['a'])).toBe(true);
      await sleep(100);
      expect(await store.extend(['a'], 't1', 1000)).toBe(false);
      expect(await store.isLocked(['a'])).toBe(false);
    });

    it('takes several keys all or nothing', async () => {
      await store.acquire(['b'], 'other', 1000);
      expect((await store.acquire(['a', 'b', 'c'], 't1', 1000)).acquired).toBe(false);
      expect(await store.isLocked(['a'])).toBe(false);
      expect(await store.isLocked(['c'])).toBe(false);
      await store.release(['b'], 'other');
      const all = await store.acquire(['a', 'b', 'c'], 't1', 1000);
      expect(all.acquired).toBe(true);
      expect((await store.acquire(['c'], 't2', 1000)).acquired).toBe(false);
      expect(await store.release(['a', 'b', 'c'], 't1')).toBe(true);
      expect(await store.isLocked(['a', 'b', 'c'])).toBe(false);
    });

    it('gives a multi-key lock a fencing token above each key’s earlier ones', async () => {
      const a = await store.acquire(['a'], 't1', 1000);
      await store.release(['a'], 't1');
      const ab = await store.acquire(['a', 'b'], 't2', 1000);
      await store.release(['a', 'b'], 't2');
      const b = await store.acquire(['b'], 't3', 1000);
      if (!a.acquired || !ab.acquired || !b.acquired) throw new Error('expected to acquire');
      expect(ab.fencingToken).toBeGreaterThan(a.fencingToken);
      expect(b.fencingToken).toBeGreaterThan(ab.fencingToken);
    });

    it('extends a multi-key lock only while it holds every key', async () => {
      await store.acquire(['a', 'b'], 't1', 1000);
      expect(await store.extend(['a', 'b'], 't1', 1000)).toBe(true);
      expect(await store.release(['b'], 't1')).toBe(true);
      expect(await store.extend(['a', 'b'], 't1', 1000)).toBe(false);
    });

    it('wakes a watcher when a watched key is released, including a release before the wait began', async () => {
      if (!store.watch) return;
      await store.acquire(['a'], 't1', 5000);
      const watch = store.watch(['a'], 'waiter') as LockReleaseWatch;
      await watch.ready;
      await store.release(['a'], 't1');
      const started = Date.now();
      await watch.next(3000);
      expect(Date.now() - started).toBeLessThan(1000);
      watch.close();
    });

    queued('hands a free key to the longest-waiting live waiter first (FIFO)', async () => {
      await store.acquire(['a'], 'holder', 5000);
      for (const waiter of ['w1', 'w2', 'w3']) {
        expect((await store.acquire(['a'], waiter, 1000, 5000)).acquired).toBe(false);
      }
      await store.release(['a'], 'holder');
      expect((await store.acquire(['a'], 'late', 1000, 5000)).acquired).toBe(false);
      expect((await store.acquire(['a'], 'w2', 1000, 5000)).acquired).toBe(false);
      expect((await store.acquire(['a'], 'w1', 1000, 5000)).acquired).toBe(true);
      await store.release(['a'], 'w1');
      expect((await store.acquire(['a'], 'w2', 1000, 5000)).acquired).toBe(true);
    });

    queued('hands a released key straight to the head of the queue, with a higher fencing token', async () => {
      const first = await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'next', 1000, 5000);
      const watch = store.watch?.(['a'], 'next') as LockReleaseWatch | undefined;
      await watch?.ready;
      await store.release(['a'], 'holder');
      expect(await store.isLocked(['a'])).toBe(true);
      expect((await store.acquire(['a'], 'barger', 1000, 0)).acquired).toBe(false);
      const handed = await watch?.next(1000);
      const confirmed = await store.acquire(['a'], 'next', 1000, 5000);
      if (!first.acquired || !confirmed.acquired) throw new Error('expected to hold the lock');
      expect(confirmed.fencingToken).toBeGreaterThan(first.fencingToken);
      if (watch) {
        expect(handed?.fencingToken).toBe(confirmed.fencingToken);
      }
      expect(await store.release(['a'], 'next')).toBe(true);
      watch?.close();
    });

    it('gives a handed key back when its waiter leaves, to the next waiter', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'quitter', 1000, 5000);
      await store.acquire(['a'], 'stayer', 1000, 5000);
      await store.release(['a'], 'holder');
      await store.leave?.(['a'], 'quitter', 1000);
      expect((await store.acquire(['a'], 'stayer', 1000, 5000)).acquired).toBe(true);
    });

    queued('caps a hand-off lease at the waiter’s deadline, so a dead waiter blocks no longer than it would have waited', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'dies-soon', 60_000, 150);
      await store.release(['a'], 'holder');
      expect(await store.isLocked(['a'])).toBe(true);
      await sleep(200);
      expect(await store.isLocked(['a'])).toBe(false);
    });

    it('does not queue a caller that will not wait', async () => {
      await store.acquire(['a'], 'holder', 5000);
      expect((await store.acquire(['a'], 'try-once', 1000, 0)).acquired).toBe(false);
      await store.release(['a'], 'holder');
      expect((await store.acquire(['a'], 'other', 1000, 0)).acquired).toBe(true);
    });

    it('drops a waiter that left, or whose deadline passed, so it never blocks the queue', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'leaver', 1000, 5000);
      await store.acquire(['a'], 'short', 1000, 50);
      await store.acquire(['a'], 'patient', 1000, 5000);
      await store.leave?.(['a'], 'leaver', 1000);
      await store.release(['a'], 'holder');
      await sleep(80);
      expect((await store.acquire(['a'], 'patient', 1000, 5000)).acquired).toBe(true);
    });

    queued('wakes only the head of the queue on release', async () => {
      if (!store.watch) return;
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'first', 1000, 5000);
      await store.acquire(['a'], 'second', 1000, 5000);
      const first = store.watch(['a'], 'first') as LockReleaseWatch;
      const second = store.watch(['a'], 'second') as LockReleaseWatch;
      await Promise.all([first.ready, second.ready]);
      await store.release(['a'], 'holder');
      const woke: string[] = [];
      await Promise.all([
        first.next(300).then(() => woke.push(`first@${Date.now()}`)),
        second.next(300).then(() => woke.push(`second@${Date.now()}`)),
      ]);
      expect(woke[0]).toMatch(/^first/);
      expect(Number(woke[1].split('@')[1]) - Number(woke[0].split('@')[1])).toBeGreaterThan(200);
      first.close();
      second.close();
    });

    it('ends a watch wait at its timeout when nothing is released', async () => {
      if (!store.watch) return;
      const watch = store.watch(['a'], 'waiter') as LockReleaseWatch;
      await watch.ready;
      const started = Date.now();
      await watch.next(100);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      watch.close();
    });
  });

  (queues ? describe : describe.skip)(`${name} bounded barging (starvation bound 300 ms)`, () => {
    let store: LockStore;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ store, dispose } = await create({ starvation: 300 }));
    });

    afterEach(async () => {
      await dispose();
    });

    it('leaves a released key free for a running caller while the head has waited less than the bound, and only wakes the head', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'head', 1000, 5000);
      const watch = store.watch?.(['a'], 'head');
      await watch?.ready;
      await store.release(['a'], 'holder');
      expect(await store.isLocked(['a'])).toBe(false);
      expect((await store.acquire(['a'], 'barger', 1000, 0)).acquired).toBe(true);
      if (watch) {
        expect(await watch.next(500)).toBeUndefined();
        watch.close();
      }
    });

    it('hands a released key to the head once it has waited for the bound', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'head', 1000, 5000);
      await sleep(350);
      await store.release(['a'], 'holder');
      expect(await store.isLocked(['a'])).toBe(true);
      expect((await store.acquire(['a'], 'barger', 1000, 0)).acquired).toBe(false);
      expect((await store.acquire(['a'], 'head', 1000, 5000)).acquired).toBe(true);
    });

    it('refuses a free key to a running caller once the head has waited for the bound', async () => {
      await store.acquire(['a'], 'holder', 100);
      await store.acquire(['a'], 'head', 1000, 5000);
      await sleep(350);
      expect((await store.acquire(['a'], 'barger', 1000, 0)).acquired).toBe(false);
      expect((await store.acquire(['a'], 'head', 1000, 5000)).acquired).toBe(true);
    });

    it('hands a key to the head at once on a release that yields its turn', async () => {
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'head', 1000, 5000);
      await store.release(['a'], 'holder', { yield: true });
      expect((await store.acquire(['a'], 'barger', 1000, 0)).acquired).toBe(false);
      expect((await store.acquire(['a'], 'head', 1000, 5000)).acquired).toBe(true);
    });
  });
}

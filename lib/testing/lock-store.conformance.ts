import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockReleaseWatch } from '../interfaces/index.js';
import { describeSharedLockStoreConformance } from './lock-store-shares.conformance.js';
import { useStoreUnderTest, type LockStoreConformanceOptions, type StoreFactory } from './lock-store-conformance.options.js';
import { resolveTestFramework } from './test-framework.js';

/**
 * Registers the tests every {@link LockStore} must pass, the same ones nest-lock runs on its memory, Redis and quorum
 * stores: leases, token-checked extend and release, strictly increasing fencing tokens, several keys all or nothing,
 * minimum holds, release notifications and, unless turned off, FIFO queues with hand-off and bounded barging, and
 * semaphores and read-write locks. For the author of a custom store:
 *
 * ```ts
 * import { describeLockStoreConformance } from 'nest-lock/testing';
 *
 * describeLockStoreConformance('MyLockStore', () => ({ store: new MyLockStore() }));
 * ```
 * @param name the store's name, in the test names
 * @param create makes a fresh store for each test (with the `starvation` bound it is given, 0 if absent)
 * @param options `queues`, `shares` (what the store offers) and `framework` (the test functions, by default the
 * runner's globals)
 */
export function describeLockStoreConformance(name: string, create: StoreFactory, options: LockStoreConformanceOptions = {}): void {
  const { queues = true, shares = true } = options;
  const framework = resolveTestFramework(options.framework, 'describeLockStoreConformance');
  // A store without queues skips the tests of queueing.
  const queued = (title: string, test: () => Promise<void>): void => void (queues && framework.it(title, test));
  if (shares) {
    describeSharedLockStoreConformance(name, create, framework);
  }
  framework.describe(`${name} conformance`, () => {
    const current = useStoreUnderTest(framework, create);

    framework.it(
      shares ? 'says it takes shared holds' : 'says it takes exclusive locks only, so the service refuses limit and mode',
      async () => {
        const store = current();
        assert.equal(store.shares === true, shares);
      },
    );

    framework.it('grants a free key and refuses it to a second token while held', async () => {
      const store = current();
      assert.equal((await store.acquire(['a'], 't1', 1000)).acquired, true);
      const second = await store.acquire(['a'], 't2', 1000);
      assert.equal(second.acquired, false);
      assert.equal(await store.isLocked(['a']), true);
    });

    framework.it('reports how long the blocking lease still runs', async () => {
      const store = current();
      await store.acquire(['a'], 't1', 1000);
      const second = await store.acquire(['a'], 't2', 1000);
      assert.equal(second.acquired, false);
      const retryAfter = second.acquired ? 0 : (second.retryAfter ?? -1);
      assert.ok(retryAfter > 800);
      assert.ok(retryAfter <= 1000);
    });

    framework.it('frees a key when its lease runs out', async () => {
      const store = current();
      await store.acquire(['a'], 't1', 50);
      await sleep(80);
      assert.equal(await store.isLocked(['a']), false);
      assert.equal((await store.acquire(['a'], 't2', 1000)).acquired, true);
    });

    framework.it('issues strictly increasing fencing tokens across holders, releases and expiry', async () => {
      const store = current();
      const tokens: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        // A lease long enough for a loaded machine's round trips (a quorum's validity is the lease less its drift).
        const result = await store.acquire(['a'], `t${i}`, 100);
        if (!result.acquired) throw new Error('expected to acquire');
        tokens.push(result.fencingToken);
        if (i % 2 === 0) {
          await store.release(['a'], `t${i}`);
        } else {
          await sleep(130);
        }
      }
      assert.deepEqual(
        tokens,
        [...tokens].sort((x, y) => x - y),
      );
      assert.equal(new Set(tokens).size, tokens.length);
      assert.equal(tokens.every(Number.isSafeInteger), true);
    });

    framework.it('names the token of the exclusive holder, and nobody once the key is released or has expired (if it tells)', async () => {
      const store = current();
      if (!store.holder) {
        return;
      }
      const holder = (key: string): Promise<string | undefined> => (store.holder as NonNullable<typeof store.holder>).call(store, key);
      assert.equal(await holder('a'), undefined);
      await store.acquire(['a'], 'app@host:1/t1', 1000);
      assert.equal(await holder('a'), 'app@host:1/t1');
      await store.release(['a'], 'app@host:1/t1');
      assert.equal(await holder('a'), undefined);
      await store.acquire(['a'], 't2', 40);
      await sleep(70);
      assert.equal(await holder('a'), undefined);
    });

    framework.it('releases only for the owning token', async () => {
      const store = current();
      await store.acquire(['a'], 't1', 1000);
      assert.equal(await store.release(['a'], 't2'), false);
      assert.equal(await store.isLocked(['a']), true);
      assert.equal(await store.release(['a'], 't1'), true);
      assert.equal(await store.isLocked(['a']), false);
      assert.equal(await store.release(['a'], 't1'), false);
    });

    framework.it('keeps a released key for keepFor ms (a minimum hold), then lets it expire', async () => {
      const store = current();
      await store.acquire(['a'], 't1', 5000);
      assert.equal(await store.release(['a'], 't1', { keepFor: 150 }), true);
      assert.equal((await store.acquire(['a'], 't2', 1000)).acquired, false);
      await sleep(220);
      assert.equal((await store.acquire(['a'], 't2', 1000)).acquired, true);
    });

    framework.it('never keeps or shortens a key another token holds when asked to keep it', async () => {
      const store = current();
      await store.acquire(['a'], 'owner', 5000);
      assert.equal(await store.release(['a'], 'stranger', { keepFor: 60_000 }), false);
      await sleep(50);
      assert.equal(await store.release(['a'], 'owner'), true);
      assert.equal(await store.isLocked(['a']), false);
    });

    framework.it('extends only for the owning token and never re-creates an expired key', async () => {
      const store = current();
      await store.acquire(['a'], 't1', 60);
      assert.equal(await store.extend(['a'], 't2', 1000), false);
      assert.equal(await store.extend(['a'], 't1', 150), true);
      await sleep(100);
      assert.equal(await store.isLocked(['a']), true);
      await sleep(100);
      assert.equal(await store.extend(['a'], 't1', 1000), false);
      assert.equal(await store.isLocked(['a']), false);
    });

    framework.it('takes several keys all or nothing', async () => {
      const store = current();
      await store.acquire(['b'], 'other', 1000);
      assert.equal((await store.acquire(['a', 'b', 'c'], 't1', 1000)).acquired, false);
      assert.equal(await store.isLocked(['a']), false);
      assert.equal(await store.isLocked(['c']), false);
      await store.release(['b'], 'other');
      const all = await store.acquire(['a', 'b', 'c'], 't1', 1000);
      assert.equal(all.acquired, true);
      assert.equal((await store.acquire(['c'], 't2', 1000)).acquired, false);
      assert.equal(await store.release(['a', 'b', 'c'], 't1'), true);
      assert.equal(await store.isLocked(['a', 'b', 'c']), false);
    });

    framework.it('gives a multi-key lock a fencing token above each key’s earlier ones', async () => {
      const store = current();
      const a = await store.acquire(['a'], 't1', 1000);
      await store.release(['a'], 't1');
      const ab = await store.acquire(['a', 'b'], 't2', 1000);
      await store.release(['a', 'b'], 't2');
      const b = await store.acquire(['b'], 't3', 1000);
      if (!a.acquired || !ab.acquired || !b.acquired) throw new Error('expected to acquire');
      assert.ok(ab.fencingToken > a.fencingToken);
      assert.ok(b.fencingToken > ab.fencingToken);
    });

    framework.it('extends a multi-key lock only while it holds every key', async () => {
      const store = current();
      await store.acquire(['a', 'b'], 't1', 1000);
      assert.equal(await store.extend(['a', 'b'], 't1', 1000), true);
      assert.equal(await store.release(['b'], 't1'), true);
      assert.equal(await store.extend(['a', 'b'], 't1', 1000), false);
    });

    framework.it('wakes a watcher when a watched key is released, including a release before the wait began', async () => {
      const store = current();
      if (!store.watch) return;
      await store.acquire(['a'], 't1', 5000);
      const watch = store.watch(['a'], 'waiter') as LockReleaseWatch;
      await watch.ready;
      await store.release(['a'], 't1');
      const started = Date.now();
      await watch.next(3000);
      assert.ok(Date.now() - started < 1000);
      watch.close();
    });

    queued('hands a free key to the longest-waiting live waiter first (FIFO)', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      for (const waiter of ['w1', 'w2', 'w3']) {
        assert.equal((await store.acquire(['a'], waiter, 1000, 5000)).acquired, false);
      }
      await store.release(['a'], 'holder');
      assert.equal((await store.acquire(['a'], 'late', 1000, 5000)).acquired, false);
      assert.equal((await store.acquire(['a'], 'w2', 1000, 5000)).acquired, false);
      assert.equal((await store.acquire(['a'], 'w1', 1000, 5000)).acquired, true);
      await store.release(['a'], 'w1');
      assert.equal((await store.acquire(['a'], 'w2', 1000, 5000)).acquired, true);
    });

    queued('hands a released key straight to the head of the queue, with a higher fencing token', async () => {
      const store = current();
      const first = await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'next', 1000, 5000);
      const watch = store.watch?.(['a'], 'next');
      await watch?.ready;
      await store.release(['a'], 'holder');
      assert.equal(await store.isLocked(['a']), true);
      assert.equal((await store.acquire(['a'], 'barger', 1000, 0)).acquired, false);
      const handed = await watch?.next(1000);
      const confirmed = await store.acquire(['a'], 'next', 1000, 5000);
      if (!first.acquired || !confirmed.acquired) throw new Error('expected to hold the lock');
      assert.ok(confirmed.fencingToken > first.fencingToken);
      if (watch) {
        assert.equal(handed?.fencingToken, confirmed.fencingToken);
      }
      assert.equal(await store.release(['a'], 'next'), true);
      watch?.close();
    });

    framework.it('gives a handed key back when its waiter leaves, to the next waiter', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'quitter', 1000, 5000);
      await store.acquire(['a'], 'stayer', 1000, 5000);
      await store.release(['a'], 'holder');
      await store.leave?.(['a'], 'quitter', 1000);
      assert.equal((await store.acquire(['a'], 'stayer', 1000, 5000)).acquired, true);
    });

    queued('caps a hand-off lease at the waiter’s deadline, so a dead waiter blocks no longer than it would have waited', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'dies-soon', 60_000, 150);
      await store.release(['a'], 'holder');
      assert.equal(await store.isLocked(['a']), true);
      await sleep(200);
      assert.equal(await store.isLocked(['a']), false);
    });

    framework.it('does not queue a caller that will not wait', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      assert.equal((await store.acquire(['a'], 'try-once', 1000, 0)).acquired, false);
      await store.release(['a'], 'holder');
      assert.equal((await store.acquire(['a'], 'other', 1000, 0)).acquired, true);
    });

    framework.it('drops a waiter that left, or whose deadline passed, so it never blocks the queue', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'leaver', 1000, 5000);
      await store.acquire(['a'], 'short', 1000, 50);
      await store.acquire(['a'], 'patient', 1000, 5000);
      await store.leave?.(['a'], 'leaver', 1000);
      await store.release(['a'], 'holder');
      await sleep(80);
      assert.equal((await store.acquire(['a'], 'patient', 1000, 5000)).acquired, true);
    });

    queued('tells a caller refused while a free key waits for the head of its queue to ask again within the head’s ttl', async () => {
      // The head may take the key and let its lease run out, which nobody is told of: a later caller that waited for
      // its own ttl would sleep while the key is free.
      const store = current();
      await store.acquire(['a'], 'holder', 100);
      await store.acquire(['a'], 'head', 200, 5000);
      await sleep(150);
      const refused = await store.acquire(['a'], 'later', 10_000, 5000);
      assert.equal(refused.acquired, false);
      assert.ok(
        !refused.acquired && refused.retryAfter !== undefined && refused.retryAfter <= 200,
        `retryAfter ${JSON.stringify(refused)}`,
      );
      await store.leave?.(['a'], 'head', 200);
      await store.leave?.(['a'], 'later', 10_000);
    });

    queued('wakes only the head of the queue on release', async () => {
      const store = current();
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
      assert.match(woke[0], /^first/);
      assert.ok(Number(woke[1].split('@')[1]) - Number(woke[0].split('@')[1]) > 200);
      first.close();
      second.close();
    });

    framework.it('ends a watch wait at its timeout when nothing is released', async () => {
      const store = current();
      if (!store.watch) return;
      const watch = store.watch(['a'], 'waiter') as LockReleaseWatch;
      await watch.ready;
      const started = Date.now();
      await watch.next(100);
      assert.ok(Date.now() - started >= 90);
      watch.close();
    });
  });

  if (!queues) {
    return;
  }
  framework.describe(`${name} bounded barging (starvation bound 300 ms)`, () => {
    const current = useStoreUnderTest(framework, create, { starvation: 300 });

    framework.it(
      'leaves a released key free for a running caller while the head has waited less than the bound, and only wakes the head',
      async () => {
        const store = current();
        await store.acquire(['a'], 'holder', 5000);
        await store.acquire(['a'], 'head', 1000, 5000);
        const watch = store.watch?.(['a'], 'head');
        await watch?.ready;
        await store.release(['a'], 'holder');
        assert.equal(await store.isLocked(['a']), false);
        assert.equal((await store.acquire(['a'], 'barger', 1000, 0)).acquired, true);
        if (watch) {
          assert.equal(await watch.next(500), undefined);
          watch.close();
        }
      },
    );

    framework.it('hands a released key to the head once it has waited for the bound', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'head', 1000, 5000);
      await sleep(350);
      await store.release(['a'], 'holder');
      assert.equal(await store.isLocked(['a']), true);
      assert.equal((await store.acquire(['a'], 'barger', 1000, 0)).acquired, false);
      assert.equal((await store.acquire(['a'], 'head', 1000, 5000)).acquired, true);
    });

    framework.it('refuses a free key to a running caller once the head has waited for the bound', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 100);
      await store.acquire(['a'], 'head', 1000, 5000);
      await sleep(350);
      assert.equal((await store.acquire(['a'], 'barger', 1000, 0)).acquired, false);
      assert.equal((await store.acquire(['a'], 'head', 1000, 5000)).acquired, true);
    });

    framework.it('hands a key to the head at once on a release that yields its turn', async () => {
      const store = current();
      await store.acquire(['a'], 'holder', 5000);
      await store.acquire(['a'], 'head', 1000, 5000);
      await store.release(['a'], 'holder', { yield: true });
      assert.equal((await store.acquire(['a'], 'barger', 1000, 0)).acquired, false);
      assert.equal((await store.acquire(['a'], 'head', 1000, 5000)).acquired, true);
    });
  });
}

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockShare } from '../interfaces/index.js';
import { fenceOf, useStoreUnderTest, type StoreFactory } from './lock-store-conformance.options.js';
import type { TestFramework } from './test-framework.js';

const PERMIT = (limit: number): LockShare => ({ mode: 'permit', limit });
const READ: LockShare = { mode: 'read' };

/**
 * What every store that takes shared holds (`shares: true`) must do with read locks and semaphore permits; part of
 * {@link describeLockStoreConformance}.
 * @param name the store's name, in the test names
 * @param create makes a fresh store for each test
 * @param framework the test functions
 * @internal
 */
export function describeSharedLockStoreConformance(name: string, create: StoreFactory, framework: TestFramework): void {
  framework.describe(`${name} semaphores and read-write locks`, () => {
    const current = useStoreUnderTest(framework, create);

    framework.it('admits up to limit permit holders, each with its own increasing fencing token, and refuses the next', async () => {
      const store = current();
      const tokens = [];
      for (const holder of ['p1', 'p2', 'p3']) {
        tokens.push(fenceOf(await store.acquire(['s'], holder, 5000, 0, PERMIT(3))));
      }
      assert.ok(tokens[1] > tokens[0]);
      assert.ok(tokens[2] > tokens[1]);
      const fourth = await store.acquire(['s'], 'p4', 5000, 0, PERMIT(3));
      assert.equal(fourth.acquired, false);
      assert.ok(!fourth.acquired && (fourth.retryAfter ?? 0) > 4000);
      assert.equal(await store.isLocked(['s']), true);
      assert.equal(await store.release(['s'], 'p2', { share: PERMIT(3) }), true);
      assert.ok(fenceOf(await store.acquire(['s'], 'p4', 5000, 0, PERMIT(3))) > tokens[2]);
    });

    framework.it('names no exclusive holder while permit holders or readers hold a key', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await store.acquire(['r'], 'r1', 5000, 0, READ);
      assert.equal(await store.holder?.('s'), undefined);
      assert.equal(await store.holder?.('r'), undefined);
    });

    framework.it('refuses a caller whose limit disagrees with the holders’, naming both limits', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(3));
      const error = await store.acquire(['s'], 'p2', 5000, 0, PERMIT(5)).catch((caught: unknown) => caught);
      assert.equal((error as Error).name, 'InvalidLockOptionsError');
      assert.match((error as Error).message, /limit 3.*limit 5/);
    });

    framework.it('refuses a mutex on a semaphore’s key and a semaphore on a mutex’s key, and read locks on a semaphore’s', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await assert.rejects(store.acquire(['s'], 'm', 5000, 0), /semaphore of limit 2.*exclusive lock/);
      await assert.rejects(store.acquire(['s'], 'r', 5000, 0, READ), /semaphore of limit 2.*read locks/);
      await store.acquire(['m'], 'm', 5000, 0);
      await assert.rejects(store.acquire(['m'], 'p', 5000, 0, PERMIT(2)), /exclusive lock.*semaphore of limit 2/);
    });

    framework.it('releases and extends a permit only for its own token, and never re-creates one that ran out', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      assert.equal(await store.release(['s'], 'stranger', { share: PERMIT(2) }), false);
      assert.equal(await store.extend(['s'], 'stranger', 5000, PERMIT(2)), false);
      assert.equal(await store.extend(['s'], 'p1', 5000, PERMIT(2)), true);
      await store.acquire(['short'], 'p2', 40, 0, PERMIT(2));
      await sleep(70);
      assert.equal(await store.extend(['short'], 'p2', 5000, PERMIT(2)), false);
      assert.equal(await store.isLocked(['short']), false);
    });

    framework.it('gives a permit back when its holder’s lease runs out (a holder that died)', async () => {
      const store = current();
      await store.acquire(['s'], 'dies', 60, 0, PERMIT(1));
      await store.acquire(['s'], 'lives', 5000, 0, PERMIT(2)).catch(() => undefined);
      assert.equal((await store.acquire(['s'], 'next', 5000, 0, PERMIT(1))).acquired, false);
      await sleep(90);
      assert.equal((await store.acquire(['s'], 'next', 5000, 0, PERMIT(1))).acquired, true);
    });

    framework.it('hands a released permit straight to the head of the queue, in arrival order', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await store.acquire(['s'], 'p2', 5000, 0, PERMIT(2));
      for (const waiter of ['w1', 'w2', 'w3']) {
        assert.equal((await store.acquire(['s'], waiter, 1000, 5000, PERMIT(2))).acquired, false);
      }
      const watch = store.watch?.(['s'], 'w1');
      await watch?.ready;
      await store.release(['s'], 'p1', { share: PERMIT(2) });
      assert.equal((await store.acquire(['s'], 'barger', 1000, 0, PERMIT(2))).acquired, false);
      assert.equal((await store.acquire(['s'], 'w2', 1000, 5000, PERMIT(2))).acquired, false);
      const handed = await watch?.next(1000);
      if (watch) assert.ok((handed?.fencingToken ?? 0) > 0);
      assert.equal((await store.acquire(['s'], 'w1', 1000, 5000, PERMIT(2))).acquired, true);
      await store.release(['s'], 'p2', { share: PERMIT(2) });
      assert.equal((await store.acquire(['s'], 'w2', 1000, 5000, PERMIT(2))).acquired, true);
      watch?.close();
    });

    framework.it('gives a handed permit back when its waiter leaves, to the next waiter', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      await store.acquire(['s'], 'quitter', 1000, 5000, PERMIT(1));
      await store.acquire(['s'], 'stayer', 1000, 5000, PERMIT(1));
      await store.release(['s'], 'p1', { share: PERMIT(1) });
      await store.leave?.(['s'], 'quitter', 1000, PERMIT(1));
      assert.equal((await store.acquire(['s'], 'stayer', 1000, 5000, PERMIT(1))).acquired, true);
    });

    framework.it('drops a permit waiter whose deadline passed, so it never blocks the queue', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      await store.acquire(['s'], 'short', 1000, 50, PERMIT(1));
      await store.acquire(['s'], 'patient', 1000, 5000, PERMIT(1));
      await sleep(80);
      await store.release(['s'], 'p1', { share: PERMIT(1) });
      assert.equal((await store.acquire(['s'], 'patient', 1000, 5000, PERMIT(1))).acquired, true);
    });

    framework.it('keeps a released permit for keepFor ms (a minimum hold), then lets it expire', async () => {
      const store = current();
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      assert.equal(await store.release(['s'], 'p1', { share: PERMIT(1), keepFor: 80 }), true);
      assert.equal((await store.acquire(['s'], 'p2', 5000, 0, PERMIT(1))).acquired, false);
      await sleep(110);
      assert.equal((await store.acquire(['s'], 'p2', 5000, 0, PERMIT(1))).acquired, true);
    });

    framework.it('takes one permit of each of several keys, all or nothing', async () => {
      const store = current();
      await store.acquire(['b'], 'full', 5000, 0, PERMIT(1));
      assert.equal((await store.acquire(['a', 'b'], 'both', 5000, 0, PERMIT(1))).acquired, false);
      assert.equal((await store.acquire(['a'], 'probe', 5000, 0, PERMIT(1))).acquired, true);
      await store.release(['a'], 'probe', { share: PERMIT(1) });
      await store.release(['b'], 'full', { share: PERMIT(1) });
      const both = fenceOf(await store.acquire(['a', 'b'], 'both', 5000, 0, PERMIT(1)));
      assert.equal((await store.acquire(['a'], 'other', 5000, 0, PERMIT(1))).acquired, false);
      assert.equal(await store.extend(['a', 'b'], 'both', 5000, PERMIT(1)), true);
      assert.equal(await store.release(['a', 'b'], 'both', { share: PERMIT(1) }), true);
      assert.ok(fenceOf(await store.acquire(['b'], 'after', 5000, 0, PERMIT(1))) > both);
    });

    framework.it('admits any number of readers at once, and a writer only once the last reader is out', async () => {
      const store = current();
      await store.acquire(['d'], 'r1', 5000, 0, READ);
      await store.acquire(['d'], 'r2', 5000, 0, READ);
      assert.equal((await store.acquire(['d'], 'r3', 5000, 0, READ)).acquired, true);
      assert.equal((await store.acquire(['d'], 'writer', 5000, 0)).acquired, false);
      await store.release(['d'], 'r1', { share: READ });
      await store.release(['d'], 'r2', { share: READ });
      assert.equal((await store.acquire(['d'], 'writer', 5000, 0)).acquired, false);
      await store.release(['d'], 'r3', { share: READ });
      assert.equal((await store.acquire(['d'], 'writer', 5000, 0)).acquired, true);
      assert.equal((await store.acquire(['d'], 'reader', 5000, 0, READ)).acquired, false);
    });

    framework.it('hands the lock to a queued writer when the last reader leaves, and queues readers that come after it', async () => {
      const store = current();
      await store.acquire(['d'], 'r1', 5000, 0, READ);
      assert.equal((await store.acquire(['d'], 'writer', 5000, 5000)).acquired, false);
      // No writer starvation: a reader arriving after a queued writer waits for it.
      assert.equal((await store.acquire(['d'], 'late-reader', 5000, 5000, READ)).acquired, false);
      const watch = store.watch?.(['d'], 'writer');
      await watch?.ready;
      await store.release(['d'], 'r1', { share: READ });
      if (watch) assert.equal(typeof (await watch.next(1000))?.fencingToken, 'number');
      assert.equal((await store.acquire(['d'], 'late-reader', 5000, 5000, READ)).acquired, false);
      assert.equal((await store.acquire(['d'], 'writer', 5000, 5000)).acquired, true);
      watch?.close();
    });

    framework.it('hands the key to a queued writer when the last live reader leaves, however many readers died before', async () => {
      const store = current();
      await store.acquire(['d'], 'dies', 50, 0, READ);
      await store.acquire(['d'], 'lives', 5000, 0, READ);
      assert.equal((await store.acquire(['d'], 'writer', 5000, 5000)).acquired, false);
      const watch = store.watch?.(['d'], 'writer');
      await watch?.ready;
      await sleep(80);
      await store.release(['d'], 'lives', { share: READ });
      if (watch) assert.equal(typeof (await watch.next(500))?.fencingToken, 'number');
      assert.equal((await store.acquire(['d'], 'writer', 5000, 5000)).acquired, true);
      watch?.close();
    });

    framework.it('admits the whole run of readers at the head of the queue at once when a writer releases', async () => {
      const store = current();
      const writer = fenceOf(await store.acquire(['d'], 'w1', 5000, 0));
      for (const waiter of ['r1', 'r2', 'w2', 'r3']) {
        await store.acquire(['d'], waiter, 5000, 5000, waiter.startsWith('r') ? READ : undefined);
      }
      await store.release(['d'], 'w1');
      const r1 = fenceOf(await store.acquire(['d'], 'r1', 5000, 5000, READ));
      const r2 = fenceOf(await store.acquire(['d'], 'r2', 5000, 5000, READ));
      assert.ok(Math.min(r1, r2) > writer);
      assert.equal((await store.acquire(['d'], 'r3', 5000, 5000, READ)).acquired, false);
      assert.equal((await store.acquire(['d'], 'w2', 5000, 5000)).acquired, false);
      await store.release(['d'], 'r1', { share: READ });
      await store.release(['d'], 'r2', { share: READ });
      assert.ok(fenceOf(await store.acquire(['d'], 'w2', 5000, 5000)) > Math.max(r1, r2));
    });

    framework.it('never lets fencing tokens go down across readers, writers and expiry', async () => {
      const store = current();
      const seen: number[] = [];
      seen.push(fenceOf(await store.acquire(['d'], 'r1', 30, 0, READ)));
      seen.push(fenceOf(await store.acquire(['d'], 'r2', 5000, 0, READ)));
      await store.release(['d'], 'r2', { share: READ });
      await sleep(50);
      seen.push(fenceOf(await store.acquire(['d'], 'w', 5000, 0)));
      await store.release(['d'], 'w');
      seen.push(fenceOf(await store.acquire(['d'], 'r3', 5000, 0, READ)));
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        seen,
      );
      assert.equal(new Set(seen).size, seen.length);
    });
  });
}

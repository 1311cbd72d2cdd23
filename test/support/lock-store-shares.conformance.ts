import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidLockOptionsError, type LockReleaseWatch, type LockShare, type LockStore, type LockStoreAcquireResult } from '../../lib';
import type { StoreUnderTest } from './lock-store.conformance';

const PERMIT = (limit: number): LockShare => ({ mode: 'permit', limit });
const READ: LockShare = { mode: 'read' };

function fence(result: LockStoreAcquireResult): number {
  if (!result.acquired) throw new Error('expected to acquire');
  return result.fencingToken;
}

/**
 * What every store that takes shared holds (`shares: true`) must do with read locks and semaphore permits. Called
 * by each such store's spec with a factory for a fresh store.
 */
export function describeSharedLockStoreConformance(name: string, create: () => Promise<StoreUnderTest>): void {
  describe(`${name} semaphores and read-write locks`, () => {
    let store: LockStore;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ store, dispose } = await create());
    });

    afterEach(async () => {
      await dispose();
    });

    it('names no exclusive holder while permit holders or readers hold a key', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await store.acquire(['r'], 'r1', 5000, 0, READ);
      expect(await store.holder?.('s')).toBeUndefined();
      expect(await store.holder?.('r')).toBeUndefined();
    });

    it('admits up to limit permit holders, each with its own increasing fencing token, and refuses the next', async () => {
      const tokens = [];
      for (const holder of ['p1', 'p2', 'p3']) {
        tokens.push(fence(await store.acquire(['s'], holder, 5000, 0, PERMIT(3))));
      }
      expect(tokens[1]).toBeGreaterThan(tokens[0]);
      expect(tokens[2]).toBeGreaterThan(tokens[1]);
      const fourth = await store.acquire(['s'], 'p4', 5000, 0, PERMIT(3));
      expect(fourth).toMatchObject({ acquired: false });
      expect(fourth.acquired ? 0 : fourth.retryAfter).toBeGreaterThan(4000);
      expect(await store.isLocked(['s'])).toBe(true);
      expect(await store.release(['s'], 'p2', { share: PERMIT(3) })).toBe(true);
      expect(fence(await store.acquire(['s'], 'p4', 5000, 0, PERMIT(3)))).toBeGreaterThan(tokens[2]);
    });

    it('refuses a caller whose limit disagrees with the holders’, naming both limits', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(3));
      const error = await store.acquire(['s'], 'p2', 5000, 0, PERMIT(5)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidLockOptionsError);
      expect((error as Error).message).toMatch(/limit 3.*limit 5/);
    });

    it('refuses a mutex on a semaphore’s key and a semaphore on a mutex’s key, and read locks on a semaphore’s', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await expect(store.acquire(['s'], 'm', 5000, 0)).rejects.toThrow(/semaphore of limit 2.*exclusive lock/);
      await expect(store.acquire(['s'], 'r', 5000, 0, READ)).rejects.toThrow(/semaphore of limit 2.*read locks/);
      await store.acquire(['m'], 'm', 5000, 0);
      await expect(store.acquire(['m'], 'p', 5000, 0, PERMIT(2))).rejects.toThrow(/exclusive lock.*semaphore of limit 2/);
    });

    it('releases and extends a permit only for its own token, and never re-creates one that ran out', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      expect(await store.release(['s'], 'stranger', { share: PERMIT(2) })).toBe(false);
      expect(await store.extend(['s'], 'stranger', 5000, PERMIT(2))).toBe(false);
      expect(await store.extend(['s'], 'p1', 5000, PERMIT(2))).toBe(true);
      await store.acquire(['short'], 'p2', 40, 0, PERMIT(2));
      await sleep(70);
      expect(await store.extend(['short'], 'p2', 5000, PERMIT(2))).toBe(false);
      expect(await store.isLocked(['short'])).toBe(false);
    });

    it('gives a permit back when its holder’s lease runs out (a holder that died)', async () => {
      await store.acquire(['s'], 'dies', 60, 0, PERMIT(1));
      await store.acquire(['s'], 'lives', 5000, 0, PERMIT(2)).catch(() => undefined);
      expect((await store.acquire(['s'], 'next', 5000, 0, PERMIT(1))).acquired).toBe(false);
      await sleep(90);
      expect((await store.acquire(['s'], 'next', 5000, 0, PERMIT(1))).acquired).toBe(true);
    });

    it('hands a released permit straight to the head of the queue, in arrival order', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(2));
      await store.acquire(['s'], 'p2', 5000, 0, PERMIT(2));
      for (const waiter of ['w1', 'w2', 'w3']) {
        expect((await store.acquire(['s'], waiter, 1000, 5000, PERMIT(2))).acquired).toBe(false);
      }
      const watch = store.watch?.(['s'], 'w1') as LockReleaseWatch | undefined;
      await watch?.ready;
      await store.release(['s'], 'p1', { share: PERMIT(2) });
      expect((await store.acquire(['s'], 'barger', 1000, 0, PERMIT(2))).acquired).toBe(false);
      expect((await store.acquire(['s'], 'w2', 1000, 5000, PERMIT(2))).acquired).toBe(false);
      const handed = await watch?.next(1000);
      if (watch) expect(handed?.fencingToken).toBeGreaterThan(0);
      expect((await store.acquire(['s'], 'w1', 1000, 5000, PERMIT(2))).acquired).toBe(true);
      await store.release(['s'], 'p2', { share: PERMIT(2) });
      expect((await store.acquire(['s'], 'w2', 1000, 5000, PERMIT(2))).acquired).toBe(true);
      watch?.close();
    });

    it('gives a handed permit back when its waiter leaves, to the next waiter', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      await store.acquire(['s'], 'quitter', 1000, 5000, PERMIT(1));
      await store.acquire(['s'], 'stayer', 1000, 5000, PERMIT(1));
      await store.release(['s'], 'p1', { share: PERMIT(1) });
      await store.leave?.(['s'], 'quitter', 1000, PERMIT(1));
      expect((await store.acquire(['s'], 'stayer', 1000, 5000, PERMIT(1))).acquired).toBe(true);
    });

    it('drops a permit waiter whose deadline passed, so it never blocks the queue', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      await store.acquire(['s'], 'short', 1000, 50, PERMIT(1));
      await store.acquire(['s'], 'patient', 1000, 5000, PERMIT(1));
      await sleep(80);
      await store.release(['s'], 'p1', { share: PERMIT(1) });
      expect((await store.acquire(['s'], 'patient', 1000, 5000, PERMIT(1))).acquired).toBe(true);
    });

    it('keeps a released permit for keepFor ms (a minimum hold), then lets it expire', async () => {
      await store.acquire(['s'], 'p1', 5000, 0, PERMIT(1));
      expect(await store.release(['s'], 'p1', { share: PERMIT(1), keepFor: 80 })).toBe(true);
      expect((await store.acquire(['s'], 'p2', 5000, 0, PERMIT(1))).acquired).toBe(false);
      await sleep(110);
      expect((await store.acquire(['s'], 'p2', 5000, 0, PERMIT(1))).acquired).toBe(true);
    });

    it('takes one permit of each of several keys, all or nothing', async () => {
      await store.acquire(['b'], 'full', 5000, 0, PERMIT(1));
      expect((await store.acquire(['a', 'b'], 'both', 5000, 0, PERMIT(1))).acquired).toBe(false);
      expect((await store.acquire(['a'], 'probe', 5000, 0, PERMIT(1))).acquired).toBe(true);
      await store.release(['a'], 'probe', { share: PERMIT(1) });
      await store.release(['b'], 'full', { share: PERMIT(1) });
      const both = fence(await store.acquire(['a', 'b'], 'both', 5000, 0, PERMIT(1)));
      expect((await store.acquire(['a'], 'other', 5000, 0, PERMIT(1))).acquired).toBe(false);
      expect(await store.extend(['a', 'b'], 'both', 5000, PERMIT(1))).toBe(true);
      expect(await store.release(['a', 'b'], 'both', { share: PERMIT(1) })).toBe(true);
      expect(fence(await store.acquire(['b'], 'after', 5000, 0, PERMIT(1)))).toBeGreaterThan(both);
    });

    it('admits any number of readers at once, and a writer only once the last reader is out', async () => {
      await store.acquire(['d'], 'r1', 5000, 0, READ);
      await store.acquire(['d'], 'r2', 5000, 0, READ);
      expect((await store.acquire(['d'], 'r3', 5000, 0, READ)).acquired).toBe(true);
      expect((await store.acquire(['d'], 'writer', 5000, 0)).acquired).toBe(false);
      await store.release(['d'], 'r1', { share: READ });
      await store.release(['d'], 'r2', { share: READ });
      expect((await store.acquire(['d'], 'writer', 5000, 0)).acquired).toBe(false);
      await store.release(['d'], 'r3', { share: READ });
      expect((await store.acquire(['d'], 'writer', 5000, 0)).acquired).toBe(true);
      expect((await store.acquire(['d'], 'reader', 5000, 0, READ)).acquired).toBe(false);
    });

    it('hands the lock to a queued writer when the last reader leaves, and queues readers that come after it', async () => {
      await store.acquire(['d'], 'r1', 5000, 0, READ);
      expect((await store.acquire(['d'], 'writer', 5000, 5000)).acquired).toBe(false);
      // No writer starvation: a reader arriving after a queued writer waits for it.
      expect((await store.acquire(['d'], 'late-reader', 5000, 5000, READ)).acquired).toBe(false);
      const watch = store.watch?.(['d'], 'writer') as LockReleaseWatch | undefined;
      await watch?.ready;
      await store.release(['d'], 'r1', { share: READ });
      if (watch) expect(await watch.next(1000)).toMatchObject({ fencingToken: expect.any(Number) });
      expect((await store.acquire(['d'], 'late-reader', 5000, 5000, READ)).acquired).toBe(false);
      expect((await store.acquire(['d'], 'writer', 5000, 5000)).acquired).toBe(true);
      watch?.close();
    });

    it('hands the key to a queued writer when the last live reader leaves, however many readers died before', async () => {
      await store.acquire(['d'], 'dies', 50, 0, READ);
      await store.acquire(['d'], 'lives', 5000, 0, READ);
      expect((await store.acquire(['d'], 'writer', 5000, 5000)).acquired).toBe(false);
      const watch = store.watch?.(['d'], 'writer') as LockReleaseWatch | undefined;
      await watch?.ready;
      await sleep(80);
      await store.release(['d'], 'lives', { share: READ });
      if (watch) expect(await watch.next(500)).toMatchObject({ fencingToken: expect.any(Number) });
      expect((await store.acquire(['d'], 'writer', 5000, 5000)).acquired).toBe(true);
      watch?.close();
    });

    it('admits the whole run of readers at the head of the queue at once when a writer releases', async () => {
      const writer = fence(await store.acquire(['d'], 'w1', 5000, 0));
      for (const waiter of ['r1', 'r2', 'w2', 'r3']) {
        await store.acquire(['d'], waiter, 5000, 5000, waiter.startsWith('r') ? READ : undefined);
      }
      await store.release(['d'], 'w1');
      const r1 = fence(await store.acquire(['d'], 'r1', 5000, 5000, READ));
      const r2 = fence(await store.acquire(['d'], 'r2', 5000, 5000, READ));
      expect(Math.min(r1, r2)).toBeGreaterThan(writer);
      expect((await store.acquire(['d'], 'r3', 5000, 5000, READ)).acquired).toBe(false);
      expect((await store.acquire(['d'], 'w2', 5000, 5000)).acquired).toBe(false);
      await store.release(['d'], 'r1', { share: READ });
      await store.release(['d'], 'r2', { share: READ });
      expect(fence(await store.acquire(['d'], 'w2', 5000, 5000))).toBeGreaterThan(Math.max(r1, r2));
    });

    it('never lets fencing tokens go down across readers, writers and expiry', async () => {
      const seen: number[] = [];
      seen.push(fence(await store.acquire(['d'], 'r1', 30, 0, READ)));
      seen.push(fence(await store.acquire(['d'], 'r2', 5000, 0, READ)));
      await store.release(['d'], 'r2', { share: READ });
      await sleep(50);
      seen.push(fence(await store.acquire(['d'], 'w', 5000, 0)));
      await store.release(['d'], 'w');
      seen.push(fence(await store.acquire(['d'], 'r3', 5000, 0, READ)));
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      expect(new Set(seen).size).toBe(seen.length);
    });
  });
}

import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidLockOptionsError, LockNotAcquiredError, type Lock } from '../../lib';
import { primitiveStores } from './instances';

describe.each(primitiveStores('rwlock'))('Read-write locks (mode) on %s', (_store, boot) => {
  it('lets readers of several instances hold the key together, each with its own fencing token', async () => {
    const instances = await boot(3);
    const readers = await Promise.all(instances.map(({ locks }) => locks.acquire('doc:42', { mode: 'read', waitTimeout: 0 })));
    expect(readers.map((reader) => reader.mode)).toEqual(['read', 'read', 'read']);
    expect(new Set(readers.map((reader) => reader.fencingToken)).size).toBe(3);
    await Promise.all(readers.map((reader) => reader.release()));
  });

  it('keeps a writer out while any reader holds the key, and readers out while the writer does', async () => {
    const [a, b] = await boot(2);
    const reader = await a.locks.acquire('doc:42', { mode: 'read' });
    await expect(b.locks.tryAcquire('doc:42')).resolves.toBeNull();
    await expect(b.locks.tryAcquire('doc:42', { mode: 'write' })).resolves.toBeNull();
    await reader.release();
    const writer = await b.locks.acquire('doc:42', { mode: 'write', waitTimeout: 0 });
    expect(writer.mode).toBe('write');
    expect(writer.fencingToken).toBeGreaterThan(reader.fencingToken);
    await expect(a.locks.tryAcquire('doc:42', { mode: 'read' })).resolves.toBeNull();
    await writer.release();
  });

  it('wakes a waiting writer when the last reader left holds the key only for its minimum hold (found by the exploration)', async () => {
    const [a, b, c] = await boot(3);
    const kept = await a.locks.acquire('doc:7', { mode: 'read', minHold: 150 });
    await kept.release();
    const reader = await b.locks.acquire('doc:7', { mode: 'read', ttl: 30_000 });
    // Refused while both readers hold the key, the writer would re-check at the long reader's lease end (30 s).
    const writer = c.locks.acquire('doc:7', { waitTimeout: 2_000 });
    await sleep(50);
    await reader.release();
    const lock = await writer;
    expect(lock.fencingToken).toBeGreaterThan(reader.fencingToken);
    await lock.release();
  });

  it('does not starve a writer: readers that arrive after a waiting writer wait for it', async () => {
    const [a, b, c] = await boot(3);
    const order: string[] = [];
    const reader = await a.locks.acquire('doc:42', { mode: 'read' });
    const writer = b.locks.using('doc:42', async () => {
      order.push('writer');
      await sleep(50);
    });
    await sleep(100);
    const lateReader = c.locks.using('doc:42', () => void order.push('late reader'), { mode: 'read' });
    await sleep(100);
    expect(order).toEqual([]);
    await reader.release();
    await Promise.all([writer, lateReader]);
    expect(order).toEqual(['writer', 'late reader']);
  });

  it('admits the whole run of waiting readers at once when the writer releases', async () => {
    const instances = await boot(4);
    const writer = await instances[0].locks.acquire('doc:42');
    let reading = 0;
    let most = 0;
    const readers = instances.slice(1).map(({ locks }) =>
      locks.using(
        'doc:42',
        async () => {
          reading += 1;
          most = Math.max(most, reading);
          await sleep(100);
          reading -= 1;
        },
        { mode: 'read' },
      ),
    );
    await sleep(100);
    await writer.release();
    await Promise.all(readers);
    expect(most).toBe(3);
  });

  it('refuses limit together with mode read, naming both, before anything reaches the store', async () => {
    const [{ locks }] = await boot(1);
    await expect(locks.acquire('doc:42', { mode: 'read', limit: 3 })).rejects.toThrow(InvalidLockOptionsError);
    await expect(locks.acquire('doc:42', { mode: 'read', limit: 3 })).rejects.toThrow(/limit.*mode 'read'/);
    await expect(locks.acquire('doc:42', { mode: 'reader' as 'read' })).rejects.toThrow(/mode must be 'read' or 'write', got "reader"/);
    await expect(locks.acquire('doc:42', { limit: 0 })).rejects.toThrow(/limit must be a whole number from 1/);
    await expect(locks.acquire('doc:42', { limit: 2.5 })).rejects.toThrow(/limit must be a whole number/);
    await expect(locks.isLocked('doc:42')).resolves.toBe(false);
  });

  it('runs a read inside the writer’s call chain straight through, and refuses to upgrade a read to a write', async () => {
    const [{ locks }] = await boot(1);
    const inner = await locks.using('doc:42', (writer) => locks.using('doc:42', (reader) => reader === writer, { mode: 'read' }));
    expect(inner).toBe(true);
    const upgrade = locks.using('doc:42', () => locks.using('doc:42', () => 'wrote', { waitTimeout: 100 }), { mode: 'read' });
    await expect(upgrade).rejects.toThrow(/holds a read lock on "doc:42" and asks for a write lock/);
    await expect(locks.isLocked('doc:42')).resolves.toBe(false);
  });

  it('ends a reader’s wait behind a writer at waitTimeout', async () => {
    const [a, b] = await boot(2);
    const writer: Lock = await a.locks.acquire('doc:42');
    await expect(b.locks.acquire('doc:42', { mode: 'read', waitTimeout: 100 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    await writer.release();
    const reader = await b.locks.acquire('doc:42', { mode: 'read', waitTimeout: 0 });
    await reader.release();
  });
});

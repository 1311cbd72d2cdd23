import { InvalidLockOptionsError, LockLostError, MemoryLockStore, type Lock, type LockShare } from '../../lib';
import { CallChain } from '../../lib/core/call-chain';
import { lockHandle } from '../support/unit-fixtures';
import { VirtualClock } from '../support/virtual-clock';

describe('CallChain', () => {
  let clock: VirtualClock;
  let store: MemoryLockStore;
  let release: jest.Mock<Promise<void>, [Lock]>;
  let chain: CallChain;
  let fence = 0;

  beforeEach(() => {
    clock = new VirtualClock();
    store = new MemoryLockStore();
    release = jest.fn(async (lock: Lock) => void (await lock.release()));
    chain = new CallChain({ owner: 'this app' }, release);
  });

  afterEach(() => clock.uninstall());

  /** Takes the keys as the service would: one lock for all of them, shared as asked. */
  function taker(share?: LockShare, ttl = 1_000): jest.Mock<Promise<Lock>, [string[]]> {
    return jest.fn(async (keys: string[]) => lockHandle(store, { keys, token: `token-${(fence += 1)}`, fencingToken: fence, ttl, share }));
  }

  it('knows no lock outside an entered one', () => {
    expect(chain.current()).toBeUndefined();
    expect(chain.current('k')).toBeUndefined();
  });

  it('shows the entered lock to current() inside run(), by key and as the innermost one, across awaits, and not outside', async () => {
    const outer = await chain.enter(['a'], undefined, taker());
    const inner = await outer.run(() => chain.enter(['b'], undefined, taker()));
    await inner.run(async () => {
      await Promise.resolve();
      expect(chain.current()).toBe(inner.lock);
      expect(chain.current('a')).toBe(outer.lock);
      expect(chain.current('b')).toBe(inner.lock);
      expect(chain.current('c')).toBeUndefined();
    });
    outer.run(() => expect(chain.current()).toBe(outer.lock));
    expect(chain.current()).toBeUndefined();
    await inner.exit();
    await outer.exit();
  });

  it('runs a nested entry of a held key straight through on the same lock, without taking it again', async () => {
    const take = taker();
    const outer = await chain.enter(['k'], undefined, take);
    const inner = await outer.run(() => chain.enter(['k'], undefined, take));
    expect(take).toHaveBeenCalledTimes(1);
    expect(inner.lock).toBe(outer.lock);
    await inner.exit();
    await outer.exit();
  });

  it('releases the lock at the outermost exit only', async () => {
    const outer = await chain.enter(['k'], undefined, taker());
    const inner = await outer.run(() => chain.enter(['k'], undefined, taker()));
    await inner.exit();
    expect(release).not.toHaveBeenCalled();
    expect(outer.lock.isHeld).toBe(true);
    await outer.exit();
    expect(release).toHaveBeenCalledTimes(1);
    expect(release).toHaveBeenCalledWith(outer.lock);
  });

  it('counts an entry’s exit once however often it is called: a nested holder exiting twice does not release the outer lock', async () => {
    const outer = await chain.enter(['k'], undefined, taker());
    const inner = await outer.run(() => chain.enter(['k'], undefined, taker()));
    await inner.exit();
    await inner.exit();
    expect(release).not.toHaveBeenCalled();
    await outer.exit();
    await outer.exit();
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('re-enters several keys together: takes only those the chain does not hold, and releases each at its own outermost exit', async () => {
    const outer = await chain.enter(['a'], undefined, taker());
    const take = taker();
    const inner = await outer.run(() => chain.enter(['a', 'b'], undefined, take));
    expect(take).toHaveBeenCalledWith(['b']);
    expect(inner.lock.keys).toEqual(['b']);
    await inner.exit();
    expect(release).toHaveBeenCalledTimes(1);
    expect(release).toHaveBeenCalledWith(inner.lock);
    await outer.exit();
    expect(release).toHaveBeenLastCalledWith(outer.lock);
  });

  it('rejects the re-entry of a lost lock with the LockLostError it was lost with, and takes nothing', async () => {
    const outer = await chain.enter(['k'], undefined, taker(undefined, 100));
    await clock.advance(100);
    expect(outer.lock.isHeld).toBe(false);
    const lost = outer.lock.signal.reason as LockLostError;
    expect(lost).toBeInstanceOf(LockLostError);
    const take = taker();
    await expect(outer.run(() => chain.enter(['k'], undefined, take))).rejects.toBe(lost);
    expect(take).not.toHaveBeenCalled();
    await outer.exit();
  });

  it('rejects the re-entry of a lock released under the chain with a LockLostError', async () => {
    const outer = await chain.enter(['k'], undefined, taker());
    await outer.lock.release();
    await expect(outer.run(() => chain.enter(['k'], undefined, taker()))).rejects.toBeInstanceOf(LockLostError);
    await outer.exit();
  });

  it('lets a reader in a chain that holds the writer run on the writer’s lock', async () => {
    const writer = await chain.enter(['k'], undefined, taker());
    const take = taker({ mode: 'read' });
    const reader = await writer.run(() => chain.enter(['k'], { mode: 'read' }, take));
    expect(take).not.toHaveBeenCalled();
    expect(reader.lock).toBe(writer.lock);
    await reader.exit();
    await writer.exit();
  });

  it('lets readers and semaphore permits re-enter as they were taken', async () => {
    const reader = await chain.enter(['r'], { mode: 'read' }, taker({ mode: 'read' }));
    const permit: LockShare = { mode: 'permit', limit: 3 };
    const holder = await chain.enter(['s'], permit, taker(permit));
    await expect(reader.run(() => chain.enter(['r'], { mode: 'read' }, taker()))).resolves.toMatchObject({ lock: reader.lock });
    await expect(holder.run(() => chain.enter(['s'], permit, taker()))).resolves.toMatchObject({ lock: holder.lock });
    await reader.exit();
    await holder.exit();
  });

  it('refuses a writer in a chain that holds the reader with InvalidLockOptionsError: it would wait for itself', async () => {
    const reader = await chain.enter(['k'], { mode: 'read' }, taker({ mode: 'read' }));
    const take = taker();
    const upgrade = reader.run(() => chain.enter(['k'], undefined, take));
    await expect(upgrade).rejects.toBeInstanceOf(InvalidLockOptionsError);
    await expect(upgrade).rejects.toThrow(/holds a read lock on "k" and asks for a write lock/);
    expect(take).not.toHaveBeenCalled();
    await reader.exit();
  });

  it.each<[string, LockShare | undefined, LockShare | undefined, string, string]>([
    [
      'a semaphore re-entered with another limit',
      { mode: 'permit', limit: 2 },
      { mode: 'permit', limit: 3 },
      "'write' and limit 2",
      "'write' and limit 3",
    ],
    ['a mutex re-entered as a semaphore', undefined, { mode: 'permit', limit: 2 }, "'write' and limit 1", "'write' and limit 2"],
    ['a semaphore re-entered as a mutex', { mode: 'permit', limit: 2 }, undefined, "'write' and limit 2", "'write' and limit 1"],
    ['a semaphore re-entered as a reader', { mode: 'permit', limit: 2 }, { mode: 'read' }, "'write' and limit 2", "'read' and limit 1"],
  ])('refuses %s with InvalidLockOptionsError naming both', async (_case, held, asked, heldText, askedText) => {
    const outer = await chain.enter(['k'], held, taker(held));
    const take = taker(asked);
    const error: unknown = await outer.run(() => chain.enter(['k'], asked, take)).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toContain(`holds "k" with mode ${heldText}`);
    expect((error as Error).message).toContain(`asks for it again with mode ${askedText}`);
    expect(take).not.toHaveBeenCalled();
    await outer.exit();
  });

  it('keeps the chains of two owners apart: one does not see or re-enter the other’s locks', async () => {
    const otherChain = new CallChain({ owner: 'another app' }, release);
    const mine = await chain.enter(['k'], undefined, taker());
    const take = taker();
    const theirs = await mine.run(async () => {
      expect(otherChain.current('k')).toBeUndefined();
      expect(otherChain.current()).toBeUndefined();
      return otherChain.enter(['k'], undefined, take);
    });
    expect(take).toHaveBeenCalledTimes(1);
    expect(theirs.lock).not.toBe(mine.lock);
    theirs.run(() => {
      expect(otherChain.current('k')).toBe(theirs.lock);
      expect(chain.current('k')).toBeUndefined();
    });
    await theirs.exit();
    await mine.exit();
    expect(release).toHaveBeenCalledTimes(2);
  });

  it('keeps sibling chains apart: what one runs does not see a lock entered in the other', async () => {
    const first = await chain.enter(['a'], undefined, taker());
    const second = await chain.enter(['b'], undefined, taker());
    first.run(() => expect(chain.current('b')).toBeUndefined());
    second.run(() => expect(chain.current('a')).toBeUndefined());
    await first.exit();
    await second.exit();
  });

  it('leaves no hold behind when taking the lock fails', async () => {
    const failure = new Error('the store is down');
    await expect(chain.enter(['k'], undefined, () => Promise.reject(failure))).rejects.toBe(failure);
    const take = taker();
    const entry = await chain.enter(['k'], undefined, take);
    expect(take).toHaveBeenCalledTimes(1);
    await entry.exit();
    expect(release).toHaveBeenCalledTimes(1);
  });
});

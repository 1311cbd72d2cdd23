import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLockStore, RedisLockStore, type LockStore } from '../../lib';
import { deleteKeysUnder, uniquePrefix } from '../support/redis';
import { useRedisServer } from '../support/redis-server';

const TTL = 60;
const OWNERS = ['a', 'b', 'c'] as const;
type Owner = (typeof OWNERS)[number];

/** The reference: who holds the key, who waits in which order, the last fencing token, each owner's token. */
interface Model {
  holder?: Owner;
  queue: Owner[];
  lastFence: number;
  tokens: Record<Owner, string>;
  generation: number;
}

interface Real {
  store: LockStore;
}

function newToken(model: Model, owner: Owner): void {
  model.generation += 1;
  model.tokens[owner] = `${owner}-${model.generation}`;
}

/** A release or a leave hands a free key to the head of the queue, as the store does. */
function handOff(model: Model): void {
  if (model.holder === undefined && model.queue.length > 0) {
    model.holder = model.queue.shift();
  }
}

class Acquire implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly owner: Owner,
    readonly wait: boolean,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const result = await real.store.acquire(['m'], model.tokens[this.owner], TTL, this.wait ? 10_000 : 0);
    const mine = model.holder === this.owner;
    const free = model.holder === undefined && (model.queue.length === 0 || model.queue[0] === this.owner);
    expect(result.acquired).toBe(mine || free);
    if (result.acquired) {
      expect(result.fencingToken).toBeGreaterThanOrEqual(model.lastFence);
      if (!mine) {
        expect(result.fencingToken).toBeGreaterThan(model.lastFence);
        model.holder = this.owner;
        model.queue = model.queue.filter((owner) => owner !== this.owner);
      }
      model.lastFence = result.fencingToken;
    } else if (this.wait && !model.queue.includes(this.owner)) {
      model.queue.push(this.owner);
    }
  }
  toString = (): string => `acquire(${this.owner}${this.wait ? ', wait' : ''})`;
}

class Release implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: Owner) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    expect(await real.store.release(['m'], model.tokens[this.owner])).toBe(model.holder === this.owner);
    if (model.holder === this.owner) {
      model.holder = undefined;
      newToken(model, this.owner);
      handOff(model);
    }
  }
  toString = (): string => `release(${this.owner})`;
}

class Extend implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: Owner) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    expect(await real.store.extend(['m'], model.tokens[this.owner], TTL)).toBe(model.holder === this.owner);
  }
  toString = (): string => `extend(${this.owner})`;
}

class Leave implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: Owner) {}
  check = (model: Readonly<Model>): boolean => model.queue.includes(this.owner);
  async run(model: Model, real: Real): Promise<void> {
    await real.store.leave?.(['m'], model.tokens[this.owner], TTL);
    model.queue = model.queue.filter((owner) => owner !== this.owner);
    handOff(model);
  }
  toString = (): string => `leave(${this.owner})`;
}

class Expire implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    await sleep(TTL + 30);
    if (model.holder !== undefined) {
      newToken(model, model.holder);
      model.holder = undefined;
    }
    expect(await real.store.isLocked(['m'])).toBe(false);
  }
  toString = (): string => 'expire';
}

const owner = fc.constantFrom(...OWNERS);
const acquire = fc.tuple(owner, fc.boolean()).map(([who, wait]) => new Acquire(who, wait));
const release = owner.map((who) => new Release(who));
// Repeated entries weigh the choice: expiry (which sleeps) is rare, acquire and release are common.
const commands = fc.commands(
  [
    acquire,
    acquire,
    acquire,
    release,
    release,
    owner.map((who) => new Extend(who)),
    owner.map((who) => new Leave(who)),
    fc.constant(new Expire()),
  ],
  { maxCommands: 25, size: 'max' },
);

function initialModel(): Model {
  return { queue: [], lastFence: 0, tokens: { a: 'a-0', b: 'b-0', c: 'c-0' }, generation: 0 };
}

// Random interleavings of acquire / queue / extend / release / leave / expiry by three owners, checked against the model.
describe('model-based: stores against a reference model', () => {
  const own = useRedisServer();

  it('MemoryLockStore behaves as the model says', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (sequence) => {
        const store = new MemoryLockStore();
        await fc.asyncModelRun(() => ({ model: initialModel(), real: { store } }), sequence);
      }),
      { numRuns: 50 },
    );
  }, 120_000);

  it('RedisLockStore behaves as the model says', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (sequence) => {
        const prefix = uniquePrefix('model');
        const store = new RedisLockStore({ client: own.redis, prefix, logger: false });
        try {
          await fc.asyncModelRun(() => ({ model: initialModel(), real: { store } }), sequence);
        } finally {
          await store.close();
          await deleteKeysUnder(own.redis, prefix);
        }
      }),
      { numRuns: 50 },
    );
  }, 120_000);
});

import fc from 'fast-check';
import type { LockOptions } from '../../lib';
import type { ExplorationTime } from './exploration.time';
import { KEYS, type World, type WorldKey } from './in-process.world';

/** What the commands act on. */
export interface Real {
  readonly world: World;
  readonly time: ExplorationTime;
}

/** fast-check's model is not needed: the world checks itself against the invariants after each step. */
type Model = object;

abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  abstract run(model: Model, real: Real): Promise<void>;
  abstract toString(): string;
}

class Acquire extends Step {
  constructor(
    readonly app: number,
    readonly key: WorldKey,
    readonly options: LockOptions,
  ) {
    super();
  }
  async run(_: Model, { world, time }: Real): Promise<void> {
    world.acquire(this.app, this.key, this.options);
    await time.settle();
    await world.check(false);
  }
  toString(): string {
    return `acquire(app ${this.app}, ${this.key}, ${JSON.stringify(this.options).replace('null', 'Infinity')})`;
  }
}

/** Several callers of one app want the key at once, each releasing it `holdFor` ms after it got it. */
class Work extends Step {
  constructor(
    readonly app: number,
    readonly key: WorldKey,
    readonly callers: number,
    readonly holdFor: number,
    readonly options: LockOptions,
  ) {
    super();
  }
  async run(_: Model, { world, time }: Real): Promise<void> {
    for (let i = 0; i < this.callers; i += 1) {
      world.acquire(this.app, this.key, this.options, this.holdFor);
    }
    await time.settle();
    await world.check(false);
  }
  toString(): string {
    return `work(app ${this.app}, ${this.key}, ${this.callers} callers holding ${this.holdFor} ms, ${JSON.stringify(this.options).replace('null', 'Infinity')})`;
  }
}

/** Acts on the n-th of some calls (modulo how many there are), if any. */
abstract class OnCall extends Step {
  constructor(readonly index: number) {
    super();
  }
}

class Release extends OnCall {
  async run(_: Model, { world, time }: Real): Promise<void> {
    const held = world.held();
    if (held.length > 0) {
      world.release(held[this.index % held.length]);
      await time.settle();
      await world.check(false);
    }
  }
  toString(): string {
    return `release(#${this.index})`;
  }
}

class Extend extends OnCall {
  async run(_: Model, { world, time }: Real): Promise<void> {
    const held = world.held();
    if (held.length > 0) {
      held[this.index % held.length].lock?.extend().catch(() => undefined);
      await time.settle();
      await world.check(false);
    }
  }
  toString(): string {
    return `extend(#${this.index})`;
  }
}

class Abort extends OnCall {
  async run(_: Model, { world, time }: Real): Promise<void> {
    const pending = world.pending();
    if (pending.length > 0) {
      pending[this.index % pending.length].controller.abort(new Error('aborted by the test'));
      await time.settle();
      await world.check(false);
    }
  }
  toString(): string {
    return `abort(#${this.index})`;
  }
}

class Advance extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async run(_: Model, { world, time }: Real): Promise<void> {
    await time.pass(this.ms, () => world.check(true));
  }
  toString(): string {
    return `advance(${this.ms})`;
  }
}

class Stall extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async run(_: Model, { world, time }: Real): Promise<void> {
    time.stall(this.ms);
    await world.check(false);
  }
  toString(): string {
    return `stall(${this.ms})`;
  }
}

class Outage extends Step {
  constructor(readonly on: boolean) {
    super();
  }
  async run(_: Model, { world }: Real): Promise<void> {
    world.setAvailable(!this.on);
  }
  toString(): string {
    return this.on ? 'store down' : 'store up';
  }
}

class Shutdown extends Step {
  constructor(readonly app: number) {
    super();
  }
  async run(_: Model, { world, time }: Real): Promise<void> {
    const closing = world.shutdown(this.app);
    await time.settle();
    await world.check(false);
    await closing;
  }
  toString(): string {
    return `shutdown(app ${this.app})`;
  }
}

/** The options a caller of `key` may pick. */
function optionsOf(key: WorldKey): fc.Arbitrary<LockOptions> {
  const spec = KEYS[key];
  return fc.record({
    ttl: fc.constantFrom(30, 100),
    waitTimeout: fc.constantFrom(0, 10, 40, 150, Number.POSITIVE_INFINITY),
    autoExtend: fc.boolean(),
    minHold: fc.constantFrom(0, 0, 0, 20),
    ...(spec.kind === 'semaphore' ? { limit: fc.constant(spec.limit) } : {}),
    ...(spec.kind === 'read-write' ? { mode: fc.constantFrom<'read' | 'write'>('read', 'write') } : {}),
  });
}

const app = fc.nat(2);
const index = fc.nat(7);
const key = fc.constantFrom<WorldKey>('m', 'm', 's', 'rw');

/** Random sequences of what callers, the store and the process do; repeated entries weigh the choice. */
const work = fc
  .tuple(app, key, fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 1, 5))
  .chain(([who, which, callers, holdFor]) => optionsOf(which).map((options) => new Work(who, which, callers, holdFor, options)));

const arbitraries: Array<fc.Arbitrary<fc.AsyncCommand<Model, Real>>> = [
  work,
  work,
  fc.tuple(app, key).chain(([who, which]) => optionsOf(which).map((options) => new Acquire(who, which, options))),
  fc.tuple(app, key).chain(([who, which]) => optionsOf(which).map((options) => new Acquire(who, which, options))),
  fc.tuple(app, key).chain(([who, which]) => optionsOf(which).map((options) => new Acquire(who, which, options))),
  index.map((n) => new Release(n)),
  index.map((n) => new Release(n)),
  index.map((n) => new Extend(n)),
  index.map((n) => new Abort(n)),
  fc.constantFrom(1, 3, 10, 40).map((ms) => new Advance(ms)),
  fc.constantFrom(1, 3, 10, 40).map((ms) => new Advance(ms)),
  fc.constantFrom(50, 150).map((ms) => new Stall(ms)),
  fc.boolean().map((on) => new Outage(on)),
  app.map((who) => new Shutdown(who)),
];
/**
 * Random sequences of what callers, the store and the process do.
 * @param maxCommands the longest sequence
 */
export function steps(maxCommands = 40): fc.Arbitrary<Iterable<fc.AsyncCommand<Model, Real>>> {
  return fc.commands(arbitraries, { maxCommands, size: 'max' });
}

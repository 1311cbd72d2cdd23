import { MemoryLockStore, type LockModuleOptions } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { useTestRedis } from '../support/redis';

/** Boots `count` apps that share one lock store: instances of one service. */
export type BootInstances = (count: number, options?: LockModuleOptions) => Promise<LockApp[]>;

/**
 * The stores the primitives' specs run on: the test Redis, and one memory store shared by the apps of a test.
 * Each entry boots apps (closed after the test) on that store.
 * @param name names the test's Redis namespace
 */
export function primitiveStores(name: string): Array<[store: string, boot: BootInstances]> {
  const redis = useTestRedis(name);
  const apps: LockApp[] = [];
  let memory: MemoryLockStore | undefined;
  afterEach(async () => {
    await Promise.all(apps.splice(0).map(({ app }) => app.close()));
    await memory?.close();
    memory = undefined;
  });
  const boot =
    (store: () => LockModuleOptions): BootInstances =>
    async (count, options = {}) => {
      const booted = await Promise.all(Array.from({ length: count }, () => bootLockApp({ ...store(), ...options })));
      apps.push(...booted);
      return booted;
    };
  return [
    ['Redis', boot(() => ({ prefix: redis.prefix }))],
    ['the memory store', boot(() => ({ store: (memory ??= new MemoryLockStore()) }))],
  ];
}

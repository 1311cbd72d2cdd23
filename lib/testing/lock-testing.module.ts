import { Module, type DynamicModule } from '@nestjs/common';
import { InvalidLockOptionsError } from '../errors/index.js';
import type { LockModuleOptions } from '../interfaces/index.js';
import { LockModule } from '../lock.module.js';
import { resolveLockModuleOptions } from '../options/lock-module-options.resolver.js';
import { LockFaults } from './lock-faults.service.js';
import { LockFaultsStore } from './lock-faults.store.js';

/** Options of `LockTestingModule.forRoot()`: those of `LockModule` but where the store is (it is in memory). */
export type LockTestingModuleOptions = Omit<LockModuleOptions, 'redis' | 'store' | 'replicas' | 'verifyConnection' | 'commandTimeout'>;

const STORE_OPTION_NAMES = ['redis', 'store', 'replicas', 'verifyConnection', 'commandTimeout'];

/**
 * `LockModule` for your unit and e2e tests: on the in-memory store (no Redis), silent unless you pass a `logger`, and
 * with {@link LockFaults} to make keys busy, the store unavailable or held locks lost. Each app (each
 * `Test.createTestingModule()`) gets a store of its own.
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [LockTestingModule.forRoot()],
 *   providers: [OrdersService],
 * }).compile();
 * const faults = moduleRef.get(LockFaults);
 * ```
 */
@Module({})
export class LockTestingModule {
  /**
   * Registers `LockModule` on the in-memory store, and `LockFaults`.
   * @param options `LockModule` options (`ttl`, `waitTimeout`, `errorMessage`, `logger`...); `logger` is off by default
   */
  static forRoot(options: LockTestingModuleOptions = {}): DynamicModule {
    const given = Object.keys(options ?? {}).filter((name) => STORE_OPTION_NAMES.includes(name));
    if (given.length > 0) {
      throw new InvalidLockOptionsError(
        `LockTestingModule.forRoot() runs on the in-memory store; drop ${given.join(', ')} (or use LockModule.forRoot() for a real Redis).`,
      );
    }
    const withDefaults: LockModuleOptions = { ...options, logger: options.logger ?? false };
    // Checked now, as LockModule.forRoot() checks them, rather than when the app starts.
    resolveLockModuleOptions({ ...withDefaults, store: 'memory' });
    return {
      module: LockTestingModule,
      global: options.isGlobal ?? true,
      imports: [
        LockModule.forRootAsync({
          isGlobal: options.isGlobal,
          // A store per app: tests that share a module definition never share locks.
          useFactory: () => ({ ...withDefaults, store: new LockFaultsStore({ starvation: options.starvation }) }),
        }),
      ],
      providers: [LockFaults],
      exports: [LockModule, LockFaults],
    };
  }
}

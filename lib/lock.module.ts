import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LOCK_MODULE_OPTIONS } from './lock.constants.js';
import { InvalidLockOptionsError } from './errors/index.js';
import { LockStore, type LockModuleAsyncOptions, type LockModuleOptions, type LockOptionsFactory } from './interfaces/index.js';
import { LockExplorer } from './locked/locked.explorer.js';
import { LeaderExplorer } from './leader/leader.explorer.js';
import { LockService } from './core/lock.service.js';
import { LockTelemetry } from './telemetry/lock.telemetry.js';
import { createLockStore } from './options/lock-store.factory.js';
import { resolveLockModuleOptions, type ResolvedLockModuleOptions } from './options/lock-module-options.resolver.js';

/** Token of the options as the user gave them, before defaults (async registration only). */
const LOCK_RAW_OPTIONS = 'lock:raw-options';

const STORE_PROVIDER: Provider = {
  provide: LockStore,
  useFactory: (options: ResolvedLockModuleOptions) => createLockStore(options),
  inject: [LOCK_MODULE_OPTIONS],
};

/**
 * Registers `LockService` and the lock store. Global unless `isGlobal: false`.
 *
 * ```ts
 * @Module({ imports: [LockModule.forRoot({ redis: 'redis://127.0.0.1:6379' })] })
 * export class AppModule {}
 * ```
 */
@Module({})
export class LockModule {
  /**
   * Registers the module with static options.
   * @param options all optional; see {@link LockModuleOptions} for the defaults
   */
  static forRoot(options: LockModuleOptions = {}): DynamicModule {
    const resolved = resolveLockModuleOptions(options);
    return LockModule.create(options.isGlobal, [], [{ provide: LOCK_MODULE_OPTIONS, useValue: resolved }]);
  }

  /**
   * Registers the module with options made by a factory, a class or an existing provider.
   * @param options `useFactory` + `inject`, `useClass` or `useExisting`, and `imports`, `isGlobal`
   */
  static forRootAsync(options: LockModuleAsyncOptions): DynamicModule {
    const source = LockModule.asyncOptionsProviders(options);
    return LockModule.create(options.isGlobal, options.imports ?? [], [
      ...source,
      {
        provide: LOCK_MODULE_OPTIONS,
        useFactory: (raw: LockModuleOptions) => resolveLockModuleOptions(raw),
        inject: [LOCK_RAW_OPTIONS],
      },
    ]);
  }

  private static create(
    isGlobal: boolean | undefined,
    imports: NonNullable<LockModuleAsyncOptions['imports']>,
    optionProviders: Provider[],
  ): DynamicModule {
    return {
      module: LockModule,
      global: isGlobal ?? true,
      imports: [DiscoveryModule, ...imports],
      providers: [...optionProviders, STORE_PROVIDER, LockService, LockExplorer, LeaderExplorer, LockTelemetry],
      exports: [LockService, LockStore, LOCK_MODULE_OPTIONS],
    };
  }

  private static asyncOptionsProviders(options: LockModuleAsyncOptions): Provider[] {
    const ways = [options.useFactory, options.useClass, options.useExisting].filter((way) => way !== undefined);
    if (ways.length !== 1) {
      throw new InvalidLockOptionsError(
        `LockModule.forRootAsync() needs exactly one of useFactory, useClass or useExisting, got ${ways.length}.`,
      );
    }
    if (options.useFactory) {
      return [{ provide: LOCK_RAW_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }];
    }
    const factoryClass = (options.useClass ?? options.useExisting) as NonNullable<LockModuleAsyncOptions['useClass']>;
    const classProvider: Provider[] = options.useClass ? [{ provide: factoryClass, useClass: factoryClass }] : [];
    return [
      ...classProvider,
      {
        provide: LOCK_RAW_OPTIONS,
        useFactory: (factory: LockOptionsFactory) => factory.createLockOptions(),
        inject: [factoryClass],
      },
    ];
  }
}

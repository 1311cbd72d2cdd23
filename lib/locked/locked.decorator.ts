import type { Observable } from 'rxjs';
import { LOCKED_METADATA } from '../lock.constants.js';
import { InvalidLockOptionsError, type LockErrorMessage } from '../errors/index.js';
import type { UsingOptions } from '../interfaces/index.js';
import { assertLockOptions, DECORATOR_OPTION_NAMES } from '../options/lock-options.validator.js';
import { decoratedMethod, replaceMethod } from './decorated-method.util.js';
import { compileLockedKey } from './locked-key.compiler.js';
import { createLockedMethod, type LockedMethodSpec } from './locked-method.runner.js';
import { declaresObservable } from './observable-result.util.js';

/** A function of the method's arguments (called with the instance as `this`) that returns the key(s). */
export type LockedKeyFunction<A extends unknown[]> = (...args: A) => string | readonly string[];

/**
 * The key of a `@Locked` method: a static string (`'nightly-report'`), a template reading the arguments
 * (`'order:{0}'`, `'user:{1.user.id}'`), a function of the arguments, or an array of these (all keys taken
 * together, all or nothing).
 */
export type LockedKey<A extends unknown[] = unknown[]> = string | LockedKeyFunction<A> | ReadonlyArray<string | LockedKeyFunction<A>>;

/** Options of `@Locked`: those of `LockService.using()` but `signal`; `ttl` and `waitTimeout` fall back to the module's. */
export interface LockedOptions extends Omit<UsingOptions, 'signal' | 'autoExtend' | 'minHold'> {
  /**
   * Keep extending the lease while the method runs.
   * @default true
   */
  autoExtend?: boolean;
  /**
   * Shortest time the lock stays taken after the call began, however fast the method returns (see
   * `LockOptions.minHold`).
   * @default 0; with `onBusy: 'skip'` on a `@Cron` or `@Interval` method, 80% of the shortest time between its
   * ticks, so that each tick runs once across instances
   */
  minHold?: number;
  /**
   * What a client is told when this lock stays busy (the 409's message): a text, or a function of the error returning
   * one. Wins over the module's `errorMessage`; the error keeps its `keys` and the developer's `message`.
   * @default the module's `errorMessage` ('The resource is busy; try again later.')
   */
  errorMessage?: LockErrorMessage;
}

/** `@Locked({ key, ...options })`. */
export interface LockedDefinition<A extends unknown[] = unknown[]> extends LockedOptions {
  /** The key; see {@link LockedKey}. */
  key: LockedKey<A>;
}

/** What a `@Locked` method may return: the call always becomes asynchronous. */
export type LockedResult = PromiseLike<unknown> | Observable<unknown> | void;

/**
 * The decorator `@Locked` returns. It only fits methods whose leading parameters match the key function's
 * and whose result is a Promise, an Observable or nothing.
 */
export type LockedMethodDecorator<A extends unknown[]> = <P extends [...A, ...unknown[]], R extends LockedResult>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<(...args: P) => R>,
) => void;

const DEFINITION_NAMES: ReadonlySet<string> = new Set([...DECORATOR_OPTION_NAMES, 'key']);

/**
 * Runs the method under a distributed lock: taken before the method runs (with the arguments it really
 * receives, after pipes), held while it runs (watchdog on) and, for an Observable result, until the stream
 * ends; released afterwards. Works on controllers, providers, microservice handlers and cron jobs, keeps all
 * other decorators' metadata, and is re-entrant within one call chain.
 *
 * ```ts
 * @Locked((id: string) => `order:${id}`, { ttl: 10_000, waitTimeout: 2_000 })
 * async confirm(id: string) {}
 *
 * @Cron('0 * * * * *')
 * @Locked('nightly-report', { onBusy: 'skip' })
 * async report() {}
 * ```
 * @param key the key; see {@link LockedKey}
 * @param options `ttl`, `waitTimeout`, `autoExtend`, `minHold`, `onBusy`, `limit`, `mode`, `errorMessage`
 * @throws InvalidLockOptionsError when the class is decorated, for a malformed key or option
 */
export function Locked<A extends unknown[] = []>(key: LockedKey<A>, options?: LockedOptions): LockedMethodDecorator<A>;
/**
 * `@Locked({ key, ...options })`: the same as `@Locked(key, options)`.
 * @param definition the key and the options
 */
export function Locked<A extends unknown[] = []>(definition: LockedDefinition<A>): LockedMethodDecorator<A>;
export function Locked<A extends unknown[]>(
  keyOrDefinition: LockedKey<A> | LockedDefinition<A>,
  options?: LockedOptions,
): LockedMethodDecorator<A> {
  return (target, propertyKey, descriptor) => {
    const original = decoratedMethod('@Locked', target, propertyKey, descriptor);
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}.${String(propertyKey)}`;
    const { key, errorMessage, ...given } = splitDefinition(keyOrDefinition, options, where);
    const spec: LockedMethodSpec = {
      where,
      className,
      keys: compileLockedKey(key, where),
      options: given,
      errorMessage,
      observable: declaresObservable(target, propertyKey),
    };
    replaceMethod(descriptor, original, createLockedMethod(original, spec), [LOCKED_METADATA, spec]);
  };
}

function splitDefinition<A extends unknown[]>(
  keyOrDefinition: LockedKey<A> | LockedDefinition<A>,
  options: LockedOptions | undefined,
  where: string,
): LockedDefinition<A> {
  const isDefinition = typeof keyOrDefinition === 'object' && keyOrDefinition !== null && !Array.isArray(keyOrDefinition);
  if (isDefinition) {
    if (options !== undefined) {
      throw new InvalidLockOptionsError(`@Locked on ${where}: pass either ({ key, ...options }) or (key, options), not both.`);
    }
    assertLockOptions(keyOrDefinition, DEFINITION_NAMES, `@Locked on ${where}`);
    return keyOrDefinition as LockedDefinition<A>;
  }
  assertLockOptions(options, DECORATOR_OPTION_NAMES, `@Locked on ${where}`);
  return { ...options, key: keyOrDefinition as LockedKey<A> };
}

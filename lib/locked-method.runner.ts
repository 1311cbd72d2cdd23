import { isObservable, Observable, type Subscription } from 'rxjs';
import { LockError, LockNotAcquiredError } from './errors/index.js';
import type { LockOptions } from './interfaces/index.js';
import type { LockService } from './lock.service.js';
import type { LockedKeyResolver } from './locked-key.compiler.js';
import { scheduledMinHold } from './locked-schedule.js';

/** Where the running app's LockService is kept on instances (or prototypes) of classes with `@Locked` methods. */
const LOCK_SERVICE_BINDING = Symbol.for('lock:service-binding');

/** Everything a `@Locked` method needs at call time, fixed when the class is decorated. */
export interface LockedMethodSpec {
  readonly where: string;
  readonly className: string;
  readonly keys: LockedKeyResolver;
  readonly options: Omit<LockOptions, 'signal'>;
  readonly onBusy: 'throw' | 'skip';
  /** The method declares an Observable result: the lock is taken on subscription and held until it ends. */
  readonly observable: boolean;
}

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Lets the `@Locked` methods of `target` (an instance, or a prototype for request-scoped classes) reach the
 * app's LockService.
 * @param target the instance or prototype
 * @param service the app's LockService
 */
export function bindLockService(target: object, service: LockService): void {
  Object.defineProperty(target, LOCK_SERVICE_BINDING, { value: service, configurable: true, writable: true });
}

/**
 * Builds the function that replaces a `@Locked` method.
 * @param original the method as declared
 * @param spec the compiled decoration
 */
export function createLockedMethod(original: AnyMethod, spec: LockedMethodSpec): AnyMethod {
  let scheduled: LockedMethodSpec | undefined;
  // Read on the first call: @Cron may be applied after @Locked, onto this wrapper.
  const callSpec = (): LockedMethodSpec => (scheduled ??= withScheduledMinHold(spec, wrapper));
  const wrapper = spec.observable
    ? function lockedObservable(this: unknown, ...args: unknown[]) {
        return runObservable(this, args, original, callSpec());
      }
    : function lockedMethod(this: unknown, ...args: unknown[]) {
        return runPromise(this, args, original, callSpec());
      };
  return wrapper;
}

/** A skipping `@Cron` / `@Interval` job holds its lock for most of a tick unless told otherwise (see `minHold`). */
function withScheduledMinHold(spec: LockedMethodSpec, method: object): LockedMethodSpec {
  if (spec.onBusy !== 'skip' || spec.options.minHold !== undefined) {
    return spec;
  }
  const minHold = scheduledMinHold(method);
  return minHold === undefined ? spec : { ...spec, options: { ...spec.options, minHold } };
}

async function runPromise(instance: unknown, args: unknown[], original: AnyMethod, spec: LockedMethodSpec): Promise<unknown> {
  const service = lockServiceOf(instance, spec);
  const keys = spec.keys(instance, args);
  try {
    return await service.runExclusive(keys, service.resolveLocked(spec), () => original.apply(instance, args));
  } catch (error) {
    return skipOrThrow(error, service, spec);
  }
}

function runObservable(instance: unknown, args: unknown[], original: AnyMethod, spec: LockedMethodSpec): Observable<unknown> {
  return new Observable((subscriber) => {
    const cancel = new AbortController();
    let inner: Subscription | undefined;
    const start = async (): Promise<void> => {
      const service = lockServiceOf(instance, spec);
      const keys = spec.keys(instance, args);
      const entry = await service
        .enter(keys, { ...service.resolveLocked(spec), signal: cancel.signal })
        .catch((error: unknown) => skipOrThrow(error, service, spec));
      if (!entry) {
        subscriber.complete();
        return;
      }
      if (cancel.signal.aborted) {
        await entry.exit();
        return;
      }
      let result: unknown;
      try {
        result = entry.run(() => original.apply(instance, args));
      } catch (error) {
        // Thrown before there was a stream to hold the lock for: leave it now.
        await entry.exit();
        throw error;
      }
      inner = entry.run(() => service.holdUntilFinalized(toObservable(result), entry).subscribe(subscriber));
    };
    start().catch((error: unknown) => subscriber.error(error));
    return () => {
      cancel.abort();
      inner?.unsubscribe();
    };
  });
}

function toObservable(result: unknown): Observable<unknown> {
  if (isObservable(result)) {
    return result;
  }
  return new Observable((subscriber) => {
    Promise.resolve(result).then(
      (value) => {
        subscriber.next(value);
        subscriber.complete();
      },
      (error: unknown) => subscriber.error(error),
    );
  });
}

function skipOrThrow(error: unknown, service: LockService, spec: LockedMethodSpec): undefined {
  if (spec.onBusy === 'skip' && error instanceof LockNotAcquiredError) {
    service.debug(`Skipped ${spec.where}: lock ${JSON.stringify(error.keys)} is busy (onBusy: 'skip').`);
    return undefined;
  }
  throw error;
}

function lockServiceOf(instance: unknown, spec: LockedMethodSpec): LockService {
  const service =
    typeof instance === 'object' && instance !== null
      ? (instance as { [LOCK_SERVICE_BINDING]?: LockService })[LOCK_SERVICE_BINDING]
      : undefined;
  if (!service) {
    throw new LockError(
      `${spec.where} is @Locked, but this ${spec.className} was not created by Nest in an app that imports ` +
        `LockModule, so no LockService reaches it. Get ${spec.className} from the Nest container (inject it) ` +
        `instead of constructing it with new, and import LockModule.forRoot() in the app.`,
    );
  }
  return service;
}

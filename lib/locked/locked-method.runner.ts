import { catchError, defer, isObservable, throwError, type Observable } from 'rxjs';
import type { LockErrorMessage } from '../errors/index.js';
import type { UsingOptions } from '../interfaces/index.js';
import type { LockService } from '../core/lock.service.js';
import type { LockedKeyResolver } from './locked-key.compiler.js';
import { isScheduled, scheduledMinHold } from './locked-schedule.js';
import { lockServiceOf } from './lock-service.binding.js';
import type { AnyMethod } from './decorated-method.util.js';
import { withBusyAnswer } from './busy-answer.js';

/** Everything a `@Locked` method needs at call time, fixed when the class is decorated. */
export interface LockedMethodSpec {
  readonly where: string;
  readonly className: string;
  readonly keys: LockedKeyResolver;
  readonly options: Omit<UsingOptions, 'signal'>;
  /** What a client is told when this lock stays busy, if the decorator says. */
  readonly errorMessage?: LockErrorMessage;
  /** The method declares an Observable result: the lock is taken on subscription and held until it ends. */
  readonly observable: boolean;
}

/**
 * Builds the function that replaces a `@Locked` method: it runs the method through the app's
 * `LockService.using()` (or `stream()` for a declared Observable), with the keys of the arguments it receives.
 * @param original the method as declared
 * @param spec the compiled decoration
 */
export function createLockedMethod(original: AnyMethod, spec: LockedMethodSpec): AnyMethod {
  let options: LockedMethodSpec['options'] | undefined;
  let skipsTicks: boolean | undefined;
  // Read on the first call: @Cron may be applied after @Locked, onto this wrapper.
  const callOptions = (): LockedMethodSpec['options'] => (options ??= withScheduledMinHold(spec, wrapper));
  const isSkippingJob = (): boolean => (skipsTicks ??= spec.options.onBusy === 'skip' && isScheduled(wrapper));
  const wrapper = spec.observable
    ? function lockedObservable(this: unknown, ...args: unknown[]): Observable<unknown> {
        return defer(() => {
          const service = lockServiceOf(this, spec, '@Locked');
          const keys = keysOf(service, spec, this, args);
          return service
            .stream(keys, () => toStreamable(original.apply(this, args)), callOptions())
            .pipe(catchError((error: unknown) => throwError(() => withBusyAnswer(error, keys, spec.errorMessage, service))));
        });
      }
    : async function lockedMethod(this: unknown, ...args: unknown[]): Promise<unknown> {
        const service = lockServiceOf(this, spec, '@Locked');
        const keys = keysOf(service, spec, this, args);
        const work = (): unknown => original.apply(this, args);
        // A skipping job's tick skips an unreachable store too: see LockService.runTick.
        return (isSkippingJob() ? service.runTick(keys, work, callOptions()) : service.using(keys, work, callOptions())).catch(
          (error: unknown) => {
            throw withBusyAnswer(error, keys, spec.errorMessage, service);
          },
        );
      };
  return wrapper;
}

/** A skipping `@Cron` / `@Interval` job holds its lock for most of a tick unless told otherwise (see `minHold`). */
function withScheduledMinHold(spec: LockedMethodSpec, method: object): LockedMethodSpec['options'] {
  if (spec.options.onBusy !== 'skip' || spec.options.minHold !== undefined) {
    return spec.options;
  }
  const minHold = scheduledMinHold(method);
  return minHold === undefined ? spec.options : { ...spec.options, minHold };
}

/** What a method declared as returning an Observable gave back, as something `stream()` subscribes to. */
function toStreamable(result: unknown): Observable<unknown> | Promise<unknown> {
  return isObservable(result) ? result : Promise.resolve(result);
}

/** The keys of one call; a key that cannot be built is logged by the app's LockService before it is thrown. */
function keysOf(service: LockService, spec: LockedMethodSpec, instance: unknown, args: readonly unknown[]): string[] {
  try {
    return spec.keys(instance, args);
  } catch (error) {
    return service.reportAndThrow(error);
  }
}

import { LockError } from '../errors/index.js';
import type { LockService } from '../core/lock.service.js';
import { LockFailureLog } from '../core/lock-failure.log.js';
import { createLockLogger } from '../lock.logger.js';

/** Where the running app's LockService is kept on instances of classes with `@Locked` or `@LeaderOnly` methods. */
const LOCK_SERVICE_BINDING = Symbol.for('lock:service-binding');

/**
 * Lets the decorated methods of `target` (an instance) reach the app's LockService.
 * @param target the instance
 * @param service the app's LockService
 */
export function bindLockService(target: object, service: LockService): void {
  Object.defineProperty(target, LOCK_SERVICE_BINDING, { value: service, configurable: true, writable: true });
}

/** No app reaches an instance made with `new`: its failure goes to Nest's default logger. */
const unboundLog = new LockFailureLog(createLockLogger('Locked', undefined));

/** Where a decorated method is, for messages. */
export interface DecoratedMethodPlace {
  readonly where: string;
  readonly className: string;
}

/**
 * The LockService of the app that created `instance`, or a LockError (logged) saying how to get one.
 * @param instance the method's `this`
 * @param place the method
 * @param decorator the decorator's name, e.g. `@Locked`
 */
export function lockServiceOf(instance: unknown, place: DecoratedMethodPlace, decorator: string): LockService {
  const service =
    typeof instance === 'object' && instance !== null
      ? (instance as { [LOCK_SERVICE_BINDING]?: LockService })[LOCK_SERVICE_BINDING]
      : undefined;
  if (!service) {
    const error = new LockError(
      `${place.where} is ${decorator}, but this ${place.className} was not created by Nest in an app that imports ` +
        `LockModule, so no LockService reaches it. Get ${place.className} from the Nest container (inject it) ` +
        `instead of constructing it with new, and import LockModule.forRoot() in the app.`,
    );
    unboundLog.report(error);
    throw error;
  }
  return service;
}

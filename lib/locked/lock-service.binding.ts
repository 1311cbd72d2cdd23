import type { LockService } from '../core/lock.service.js';
import { assertLockService } from './lock-service.guard.js';

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

/** Where a decorated method is, for messages. */
export interface DecoratedMethodPlace {
  readonly where: string;
  readonly className: string;
}

/**
 * The LockService of the app that created `instance`, or a LockError (logged) saying how to get one (see
 * {@link assertLockService}).
 * @param instance the method's `this`
 * @param place the method
 * @param decorator the decorator's name, e.g. `@Locked`
 */
export function lockServiceOf(instance: unknown, place: DecoratedMethodPlace, decorator: string): LockService {
  const service =
    typeof instance === 'object' && instance !== null
      ? (instance as { [LOCK_SERVICE_BINDING]?: LockService })[LOCK_SERVICE_BINDING]
      : undefined;
  return assertLockService(service, `${place.where} is ${decorator}`, place.className);
}

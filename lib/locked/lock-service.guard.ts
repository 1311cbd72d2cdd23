import { LockError } from '../errors/index.js';
import { LockService } from '../core/lock.service.js';
import { LockFailureLog } from '../core/lock-failure.log.js';
import { createLockLogger } from '../lock.logger.js';

/** What to do instead of mocking LockService, for the errors below. */
const USE_TESTING_MODULE =
  "import LockTestingModule.forRoot() from 'nest-lock/testing' instead of mocking LockService: it takes real locks " +
  'in memory, and LockFaults makes them busy, unavailable or lost';

/** No working app reaches these failures: they go to Nest's default logger. */
const unboundLog = new LockFailureLog(createLockLogger('Locked', undefined));

/**
 * The app's LockService, checked: a `@Locked` method or a `@UseLock` handler reached by none (an instance made with
 * `new`, an app without LockModule), or by a mock, fails with an error (logged once) that says what to do, among
 * others to use `LockTestingModule` in tests.
 * @param service what the app gave the decorator
 * @param where `Orders.confirm is @Locked` / `@UseLock on Orders.confirm`, for the message
 * @param className the decorated class, for the message
 */
export function assertLockService(service: unknown, where: string, className: string): LockService {
  if (service instanceof LockService) {
    return service;
  }
  const error =
    service === undefined
      ? new LockError(
          `${where}, but this ${className} was not created by Nest in an app that imports LockModule and has started, so ` +
            `no LockService reaches it. Get ${className} from the Nest container (inject it) instead of constructing it ` +
            `with new, import LockModule.forRoot() in the app, and start the app (app.init(); in a test, await ` +
            `moduleRef.init() after compile()). In a test, ${USE_TESTING_MODULE}.`,
        )
      : new LockError(
          `${where}, but this app's LockService was replaced (a mock, or overrideProvider(LockService)), so its lock ` +
            `cannot be taken. In tests, ${USE_TESTING_MODULE}.`,
        );
  unboundLog.report(error);
  throw error;
}

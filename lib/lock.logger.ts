import { Logger, type LoggerService } from '@nestjs/common';

/** The few log levels the library uses, bound to one context. */
export interface LockLogger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const SILENT: LockLogger = { debug: () => undefined, log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Creates the logger of one class: Nest's `Logger` with the class name as context, the user's
 * `LoggerService`, or nothing at all for `logger: false`.
 * @param context the class name
 * @param option the module's `logger` option
 */
export function createLockLogger(context: string, option: false | LoggerService | undefined): LockLogger {
  if (option === false) {
    return SILENT;
  }
  if (option === undefined) {
    // A Logger made with a context adds it itself; passing it again would print it as a second message.
    const logger = new Logger(context);
    return {
      debug: (message) => logger.debug(message),
      log: (message) => logger.log(message),
      warn: (message) => logger.warn(message),
      error: (message) => logger.error(message),
    };
  }
  return {
    debug: (message) => void option.debug?.(message, context),
    log: (message) => void option.log(message, context),
    warn: (message) => void option.warn(message, context),
    error: (message) => void option.error(message, context),
  };
}

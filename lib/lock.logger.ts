import { Logger, type LoggerService } from '@nestjs/common';

/** The few log levels the library uses, bound to one context. */
export interface LockLogger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
}

const SILENT: LockLogger = { debug: () => undefined, log: () => undefined, warn: () => undefined };

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
  const target: LoggerService = option ?? new Logger(context);
  return {
    debug: (message) => {
      target.debug?.(message, context);
    },
    log: (message) => {
      target.log(message, context);
    },
    warn: (message) => {
      target.warn(message, context);
    },
  };
}

import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Base class of every error nest-lock throws.
 *
 * It is an `HttpException`, so a lock error that reaches Nest's exception layer over HTTP answers with
 * a meaningful status (409 for a busy lock, 503 for an unreachable store) instead of a bare 500, while
 * your own exception filters can still catch it by class. Server-side faults (5xx) keep their detail in
 * `message` and send the client only the standard status text.
 */
export class LockError extends HttpException {
  /**
   * @param message what went wrong and what to do about it
   * @param status HTTP status this error maps to @default 500
   * @param cause the underlying error, if any
   */
  constructor(message: string, status: number = HttpStatus.INTERNAL_SERVER_ERROR, cause?: unknown) {
    super(LockError.body(message, status), status, cause === undefined ? undefined : { cause });
    this.message = message;
    this.name = this.constructor.name;
  }

  /**
   * Renders keys for a message: `"a"` or `["a","b"]`.
   * @param keys keys as the caller named them
   */
  protected static formatKeys(keys: readonly string[]): string {
    return keys.length === 1 ? JSON.stringify(keys[0]) : JSON.stringify(keys);
  }

  private static body(message: string, status: number): Record<string, unknown> {
    if (status >= 500) {
      return { statusCode: status, message: LockError.statusText(status) };
    }
    return { statusCode: status, message, error: LockError.statusText(status) };
  }

  private static statusText(status: number): string {
    const name = HttpStatus[status] ?? 'INTERNAL_SERVER_ERROR';
    return name
      .toLowerCase()
      .split('_')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join(' ');
  }
}

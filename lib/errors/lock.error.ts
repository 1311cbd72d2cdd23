import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Base class of every error nest-lock throws.
 *
 * It is an `HttpException`, so a lock error that reaches Nest's exception layer over HTTP answers with
 * a meaningful status (409 for a busy lock, 503 for an unreachable store) instead of a bare 500, while
 * your own exception filters can still catch it by class. What the client is told ({@link clientMessage}) never
 * carries a lock key or advice meant for developers: those stay in `message`, for logs and exception filters.
 */
export class LockError extends HttpException {
  /** The text a client gets instead of the status text (a busy lock's answer); set by subclasses. */
  protected answer?: string;

  /**
   * @param message what went wrong and what to do about it (for developers: logs, exception filters)
   * @param status HTTP status this error maps to @default 500
   * @param cause the underlying error, if any
   */
  constructor(message: string, status: number = HttpStatus.INTERNAL_SERVER_ERROR, cause?: unknown) {
    super(message, status, cause === undefined ? undefined : { cause });
    this.message = message;
    this.name = this.constructor.name;
  }

  /**
   * What a client is told: the `message` of the HTTP body and of the WebSocket / RPC error. For a busy lock (409), that
   * the resource is busy and to try again (or the `errorMessage` you chose); otherwise the status text.
   */
  get clientMessage(): string {
    return this.answer ?? LockError.statusText(this.getStatus());
  }

  /**
   * The body Nest sends the client: `{ statusCode, message, error }` for a 4xx, `{ statusCode, message }` with the
   * status text for a 5xx.
   */
  override getResponse(): Record<string, unknown> {
    const status = this.getStatus();
    if (status >= 500) {
      return { statusCode: status, message: this.clientMessage };
    }
    return { statusCode: status, message: this.clientMessage, error: LockError.statusText(status) };
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

import type { ContextType } from '@nestjs/common';
import { from, mergeMap, throwError, type Observable } from 'rxjs';
import { LockError } from '../errors/index.js';

/** An exception class of a transport package (`WsException`, `RpcException`): built from the error's body. */
type TransportException = new (error: object) => Error;

/** Loads the exception class a transport's exception filter turns into its own error reply. */
const TRANSPORT_EXCEPTIONS: Partial<Record<ContextType, () => Promise<TransportException>>> = {
  ws: () => import('@nestjs/websockets').then((module) => module.WsException),
  rpc: () => import('@nestjs/microservices').then((module) => module.RpcException),
};

/**
 * A lock error as the transport of the request answers errors: over WebSocket a `WsException` and over a
 * microservice transport an `RpcException`, carrying the HTTP-like body (`{ status: 'error', statusCode: 409,
 * message, error: 'Conflict' }`), so the client gets the reason instead of "Internal server error". Over HTTP, and
 * when the transport's package is not installed, the error as it is.
 * @param error what the lock or the handler failed with
 * @param type the execution context's type
 */
export function asTransportError(error: unknown, type: ContextType): Observable<never> {
  const load = TRANSPORT_EXCEPTIONS[type];
  if (!(error instanceof LockError) || !load) {
    return throwError(() => error);
  }
  const body = error.getResponse();
  const reply = { status: 'error', ...(typeof body === 'object' ? body : { message: body }) };
  // Without the transport's package (an optional peer), the error goes on as it is.
  const exception = load().catch(() => undefined);
  return from(exception).pipe(mergeMap((Exception) => throwError(() => (Exception ? new Exception(reply) : error))));
}

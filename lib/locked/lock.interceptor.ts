import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AsyncResource } from 'node:async_hooks';
import { catchError, concat, defer, EMPTY, Observable, of, throwError, type Subscriber } from 'rxjs';
import { LockService } from '../core/lock.service.js';
import { NEST_SSE_METADATA, USE_LOCK_METADATA } from '../lock.constants.js';
import type { LockKeyResolver } from './lock-key.template.js';
import { asTransportError } from './transport-error.js';
import type { LockedOptions } from './locked.decorator.js';
import type { LockErrorMessage } from '../errors/index.js';
import { withBusyAnswer } from './busy-answer.js';
import { assertLockService } from './lock-service.guard.js';
import { declaresObservable } from './observable-result.util.js';

/** What `@UseLock` records on a class or handler. */
export interface UseLockSpec {
  readonly where: string;
  readonly keys: LockKeyResolver<ExecutionContext>;
  readonly options: Omit<LockedOptions, 'errorMessage'>;
  readonly errorMessage?: LockErrorMessage;
}

/**
 * Holds the lock `@UseLock` declares (on the handler, else on its controller) for the rest of the request pipeline.
 * `@UseLock` applies it; it can also be registered globally (`APP_INTERCEPTOR`), where it locks only the handlers
 * that carry `@UseLock` and passes every other request through.
 *
 * Each subscription to the pipeline takes the lock of its own: an outer `retry` runs the handler again under a lock
 * taken again. An unsubscription (an outer `timeout`, a client that went away) while the handler still runs aborts
 * the lock's `signal` and holds the lock until the handler has answered; a handler that streams (declared to return
 * an Observable, or `@Sse()`) is stopped by the unsubscription, which releases the lock at once.
 */
@Injectable()
export class LockInterceptor implements NestInterceptor {
  /**
   * @param reflector reads `@UseLock`
   * @param locks takes the lock
   */
  constructor(
    private readonly reflector: Reflector,
    private readonly locks: LockService,
  ) {}

  /**
   * @param context the request
   * @param next the rest of the pipeline
   */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.getAllAndOverride<UseLockSpec | undefined>(USE_LOCK_METADATA, [context.getHandler(), context.getClass()]);
    if (!spec) {
      return next.handle();
    }
    // Nest calls intercept() again for each subscription. Subscribe in the async context of this call: a retry
    // re-subscribes from inside the attempt before it, whose lock (ending, or ended) must not pass for this one's.
    const subscribeHere = AsyncResource.bind((subscriber: Subscriber<unknown>) => this.lock(spec, context, next).subscribe(subscriber));
    return new Observable<unknown>((subscriber) => subscribeHere(subscriber)).pipe(
      catchError((error: unknown) => asTransportError(error, context.getType())),
    );
  }

  /** The pipeline under the lock, for one subscription. */
  private lock(spec: UseLockSpec, context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return defer(() => {
      assertLockService(this.locks, `@UseLock on ${spec.where} needs nest-lock's LockService`, spec.where.split('.')[0]);
      const keys = this.keysOf(spec, context);
      const streams = streamsItsAnswer(context);
      let ran = false;
      const locked = this.locks.streamAnswered(
        keys,
        () => {
          ran = true;
          return next.handle();
        },
        spec.options,
        () => !streams,
      );
      // A skipped request still answers (empty), as a skipped @Locked method returns undefined.
      return concat(
        locked,
        defer(() => (ran ? EMPTY : of(undefined))),
      ).pipe(catchError((error: unknown) => throwError(() => withBusyAnswer(error, keys, spec.errorMessage, this.locks))));
    });
  }

  private keysOf(spec: UseLockSpec, context: ExecutionContext): string[] {
    try {
      return spec.keys(context);
    } catch (error) {
      return this.locks.reportAndThrow(error);
    }
  }
}

/** Whether the handler answers with a stream that an unsubscription stops (an Observable it declares, or `@Sse()`). */
function streamsItsAnswer(context: ExecutionContext): boolean {
  const handler = context.getHandler();
  return (
    Reflect.getMetadata(NEST_SSE_METADATA, handler) === true || declaresObservable(context.getClass().prototype as object, handler.name)
  );
}

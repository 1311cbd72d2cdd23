import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, concat, defer, EMPTY, of, throwError, type Observable } from 'rxjs';
import { LockService } from '../core/lock.service.js';
import { USE_LOCK_METADATA } from '../lock.constants.js';
import type { LockKeyResolver } from './lock-key.template.js';
import { asTransportError } from './transport-error.js';
import type { LockedOptions } from './locked.decorator.js';
import type { LockErrorMessage } from '../errors/index.js';
import { withBusyAnswer } from './busy-answer.js';
import { assertLockService } from './lock-service.guard.js';

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
 */
@Injectable()
export class LockInterceptor implements NestInterceptor {
  /** The requests this interceptor is locking: a global one and a `@UseLock` one on the same request lock once. */
  private static readonly locking = new WeakSet<object>();

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
    const request: object = context.getArgs();
    if (!spec || LockInterceptor.locking.has(request)) {
      return next.handle();
    }
    return defer(() => {
      assertLockService(this.locks, `@UseLock on ${spec.where} needs nest-lock's LockService`, spec.where.split('.')[0]);
      const keys = this.keysOf(spec, context);
      LockInterceptor.locking.add(request);
      let ran = false;
      const locked = this.locks.stream(
        keys,
        () => {
          ran = true;
          return next.handle();
        },
        spec.options,
      );
      // A skipped request still answers (empty), as a skipped @Locked method returns undefined.
      return concat(
        locked,
        defer(() => (ran ? EMPTY : of(undefined))),
      ).pipe(catchError((error: unknown) => throwError(() => withBusyAnswer(error, keys, spec.errorMessage, this.locks))));
    }).pipe(catchError((error: unknown) => asTransportError(error, context.getType())));
  }

  private keysOf(spec: UseLockSpec, context: ExecutionContext): string[] {
    try {
      return spec.keys(context);
    } catch (error) {
      return this.locks.reportAndThrow(error);
    }
  }
}

import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { USE_LOCK_METADATA } from '../lock.constants.js';
import { assertLockOptions, DECORATOR_OPTION_NAMES } from '../options/lock-options.validator.js';
import { LockInterceptor, type UseLockSpec } from './lock.interceptor.js';
import type { LockedOptions } from './locked.decorator.js';
import { compileRequestKey, type RequestLockKey } from './request-key.compiler.js';

/**
 * Options of `@UseLock`: those of `@Locked` (`ttl`, `waitTimeout`, `autoExtend`, `minHold`, `onBusy`, `limit`, `mode`,
 * `errorMessage`).
 */
export type UseLockOptions = LockedOptions;

/**
 * Runs a handler (or every handler of a controller) under a lock keyed on the request: taken before the handler
 * and the interceptors inside this one run, held until the response is produced (for an Observable, until it ends),
 * released on error too. Busy: 409 Conflict, or with `onBusy: 'skip'` the handler does not run and the response is
 * empty. Re-entrant with `@Locked` and `using()` on the same key inside the handler. A handler's `@UseLock`
 * replaces its controller's.
 *
 * ```ts
 * @Post(':id/pay')
 * @UseLock('account:{params.id}', { waitTimeout: 0 })
 * pay(@Param('id') id: string) {}
 *
 * @UseLock((ctx: ExecutionContext) => `user:${ctx.switchToHttp().getRequest().user.id}`)
 * @Controller('accounts')
 * export class AccountsController {}
 * ```
 * @param key a template over the HTTP request (`{params.id}`, `{query.x}`, `{body.x}`, `{headers.x-tenant-id}`,
 * `{user.id}`), a function of the `ExecutionContext`, a static string, or an array of these (all taken together)
 * @param options `ttl`, `waitTimeout`, `autoExtend`, `minHold`, `onBusy`, `limit`, `mode`, `errorMessage`
 * @throws InvalidLockOptionsError when the class is decorated, for a malformed key or option
 */
export function UseLock(key: RequestLockKey, options: UseLockOptions = {}): ClassDecorator & MethodDecorator {
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = propertyKey === undefined ? className : `${className}.${String(propertyKey)}`;
    assertLockOptions(options, DECORATOR_OPTION_NAMES, `@UseLock on ${where}`);
    const { errorMessage, ...lockOptions } = options;
    const spec: UseLockSpec = { where, keys: compileRequestKey(key, where), options: lockOptions, errorMessage };
    const decorate = applyDecorators(SetMetadata(USE_LOCK_METADATA, spec), UseInterceptors(LockInterceptor));
    if (propertyKey === undefined) {
      (decorate as ClassDecorator)(target as CallableFunction);
    } else {
      (decorate as MethodDecorator)(target, propertyKey, descriptor as PropertyDescriptor);
    }
  };
}

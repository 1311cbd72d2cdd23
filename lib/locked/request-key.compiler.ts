import type { ExecutionContext } from '@nestjs/common';
import { InvalidLockOptionsError } from '../errors/index.js';
import { compileLockKey, readPath, type LockKeyResolver } from './lock-key.template.js';

/** The parts of a request a `@UseLock` template may read: `{params.id}`, `{headers.x-tenant-id}`, `{user.id}`. */
const REQUEST_PLACEHOLDER = /^(params|query|body|headers|user)((?:\.[\w$-]+)+)$/;

/** A key function of `@UseLock`: reads the execution context (request, user, transport) and returns the key(s). */
export type RequestKeyFunction = (context: ExecutionContext) => string | readonly string[];

/** The key of `@UseLock`: a static string, a template over the HTTP request, a function of the context, or an array of these. */
export type RequestLockKey = string | RequestKeyFunction | ReadonlyArray<string | RequestKeyFunction>;

/**
 * Compiles a `@UseLock` key once, at decoration time, into a resolver run on every request.
 * @param key the key as given to `@UseLock`
 * @param where `Class` or `Class.handler`, for error messages
 */
export function compileRequestKey(key: unknown, where: string): LockKeyResolver<ExecutionContext> {
  const label = `@UseLock on ${where}`;
  return compileLockKey<ExecutionContext>(key, {
    label,
    form: 'a path into the HTTP request starting with params, query, body, headers or user (e.g. {params.id}, {headers.x-tenant-id}, {user.id})',
    consequence: 'The handler was not run.',
    placeholder: (body) => {
      const match = REQUEST_PLACEHOLDER.exec(body);
      if (!match) {
        return undefined;
      }
      const root = match[1];
      // Node and Fastify keep header names in lower case.
      const path = match[2]
        .split('.')
        .filter(Boolean)
        .map((field) => (root === 'headers' ? field.toLowerCase() : field));
      return (context) => readPath(requestOf(context, label)[root], path);
    },
    call: (fn, context) => fn(context),
  });
}

function requestOf(context: ExecutionContext, label: string): Record<string, unknown> {
  if (context.getType() !== 'http') {
    throw new InvalidLockOptionsError(
      `${label}: a template reads an HTTP request, but this is a ${context.getType()} handler; use a key function of the ExecutionContext.`,
    );
  }
  return context.switchToHttp().getRequest<Record<string, unknown>>();
}

import { compileLockKey, readPath, type LockKeyResolver } from './lock-key.template.js';

/** Turns a decorated call (instance and arguments) into the keys to lock. */
export type LockedKeyResolver = (instance: unknown, args: readonly unknown[]) => string[];

const PLACEHOLDER_BODY = /^(\d+)((?:\.[A-Za-z_$][\w$]*)*)$/;

interface LockedCall {
  readonly instance: unknown;
  readonly args: readonly unknown[];
}

/**
 * Compiles a `@Locked` key (static string, `{i.path}` template over the arguments, function of the arguments, or an
 * array of these) once, at decoration time.
 * @param key the key as given to `@Locked`
 * @param where `Class.method`, for error messages
 */
export function compileLockedKey(key: unknown, where: string): LockedKeyResolver {
  const resolve: LockKeyResolver<LockedCall> = compileLockKey<LockedCall>(key, {
    label: `@Locked on ${where}`,
    form: 'of the form {index} or {index.path.to.field} (e.g. {0}, {1.user.id})',
    consequence: 'The method was not run.',
    placeholder: (body) => {
      const match = PLACEHOLDER_BODY.exec(body);
      if (!match) {
        return undefined;
      }
      const index = Number(match[1]);
      const path = match[2].split('.').filter(Boolean);
      return ({ args }) => readPath(args[index], path);
    },
    call: (fn, { instance, args }) => fn.apply(instance, [...args]),
  });
  return (instance, args) => resolve({ instance, args });
}

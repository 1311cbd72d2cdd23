import { InvalidLockOptionsError } from '../errors/index.js';
import { assertLockKey } from '../options/lock-key.validator.js';
import { describe } from '../utils/describe.util.js';

/** Turns a decorated call (instance and arguments) into the keys to lock. */
export type LockedKeyResolver = (instance: unknown, args: readonly unknown[]) => string[];

const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDER_BODY = /^(\d+)((?:\.[A-Za-z_$][\w$]*)*)$/;

/**
 * Compiles a `@Locked` key (static string, `{i.path}` template, function, or an array of these) once, at
 * decoration time, into a resolver that runs on every call. Malformed templates fail here; values that
 * cannot make a key fail on the call, naming the method and the placeholder.
 * @param key the key as given to `@Locked`
 * @param where `Class.method`, for error messages
 */
export function compileLockedKey(key: unknown, where: string): LockedKeyResolver {
  if (Array.isArray(key)) {
    if (key.length === 0) {
      throw new InvalidLockOptionsError(`@Locked on ${where}: the key array must hold at least one key.`);
    }
    const parts = key.map((part: unknown) => compileSingle(part, where));
    return (instance, args) => [...new Set(parts.flatMap((part) => part(instance, args)))];
  }
  return compileSingle(key, where);
}

function compileSingle(key: unknown, where: string): LockedKeyResolver {
  if (typeof key === 'function') {
    return (instance, args) => checkComputed((key as (...a: unknown[]) => unknown).apply(instance, [...args]), where);
  }
  if (typeof key !== 'string') {
    throw new InvalidLockOptionsError(
      `@Locked on ${where}: the key must be a string, a template, a function or an array of these, got ${describe(key)}.`,
    );
  }
  const placeholders = [...key.matchAll(PLACEHOLDER)].map((match) => parsePlaceholder(match[1], where));
  if (placeholders.length === 0) {
    const fixed = [assertLockKey(key, `@Locked on ${where}: key`)];
    return () => fixed;
  }
  return (_, args) => {
    let index = 0;
    const rendered = key.replace(PLACEHOLDER, () => {
      const placeholder = placeholders[index++];
      return renderValue(placeholder.read(args), placeholder.text, where);
    });
    return [assertLockKey(rendered, `@Locked on ${where}: key "${key}"`)];
  };
}

interface Placeholder {
  readonly text: string;
  read(args: readonly unknown[]): unknown;
}

function parsePlaceholder(body: string, where: string): Placeholder {
  const match = PLACEHOLDER_BODY.exec(body);
  if (!match) {
    throw new InvalidLockOptionsError(
      `@Locked on ${where}: placeholder {${body}} is not of the form {index} or {index.path.to.field} ` +
        `(e.g. {0}, {1.user.id}); use a key function for anything else.`,
    );
  }
  const index = Number(match[1]);
  const path = match[2].split('.').filter(Boolean);
  return {
    text: `{${body}}`,
    read: (args) =>
      path.reduce<unknown>(
        (value, field) => (value === null || value === undefined ? undefined : (value as Record<string, unknown>)[field]),
        args[index],
      ),
  };
}

function renderValue(value: unknown, placeholder: string, where: string): string {
  if ((typeof value === 'string' && value !== '') || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  throw new InvalidLockOptionsError(
    `@Locked on ${where}: placeholder ${placeholder} is ${describe(value)}; it must be a non-empty string or a ` +
      `finite number. The method was not run.`,
  );
}

function checkComputed(value: unknown, where: string): string[] {
  const keys = Array.isArray(value) ? value : [value];
  if (keys.length === 0) {
    throw new InvalidLockOptionsError(`@Locked on ${where}: the key function returned an empty array. The method was not run.`);
  }
  return keys.map((key: unknown) => assertLockKey(key, `@Locked on ${where}: the key function's result`));
}

import { InvalidLockOptionsError } from '../errors/index.js';
import { assertLockKey } from '../options/lock-key.validator.js';
import { describe } from '../utils/describe.util.js';

/** Turns what a call sees (its arguments, or its request) into the keys to lock. */
export type LockKeyResolver<C> = (source: C) => string[];

/** How one kind of declarative key reads its source: shared by `@Locked` (arguments) and `@UseLock` (the request). */
export interface LockKeySyntax<C> {
  /** `@Locked on Class.method`, for error messages. */
  readonly label: string;
  /** What a placeholder looks like, for the error about a malformed one. */
  readonly form: string;
  /** What failing on a call means to the user, for error messages. */
  readonly consequence: string;
  /** Parses a placeholder's body into a reader of the source, or `undefined` if it is malformed. */
  placeholder(body: string): ((source: C) => unknown) | undefined;
  /** Calls a key function. */
  call(fn: (...args: unknown[]) => unknown, source: C): unknown;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Compiles a declarative key (static string, `{...}` template, function, or an array of these) once, at
 * decoration time, into a resolver that runs on every call. Malformed templates fail here; values that
 * cannot make a key fail on the call, naming the placeholder.
 * @param key the key as declared
 * @param syntax how placeholders and functions read the call
 */
export function compileLockKey<C>(key: unknown, syntax: LockKeySyntax<C>): LockKeyResolver<C> {
  if (Array.isArray(key)) {
    if (key.length === 0) {
      throw new InvalidLockOptionsError(`${syntax.label}: the key array must hold at least one key.`);
    }
    const parts = key.map((part: unknown) => compileSingle(part, syntax));
    return (source) => [...new Set(parts.flatMap((part) => part(source)))];
  }
  return compileSingle(key, syntax);
}

/**
 * Reads a dotted path (`user.id`) from a value; `undefined` as soon as a step is missing.
 * @param value where to start
 * @param path the fields, in order
 */
export function readPath(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (current, field) => (current === null || current === undefined ? undefined : (current as Record<string, unknown>)[field]),
    value,
  );
}

function compileSingle<C>(key: unknown, syntax: LockKeySyntax<C>): LockKeyResolver<C> {
  if (typeof key === 'function') {
    return (source) => checkComputed(syntax.call(key as (...args: unknown[]) => unknown, source), syntax);
  }
  if (typeof key !== 'string') {
    throw new InvalidLockOptionsError(
      `${syntax.label}: the key must be a string, a template, a function or an array of these, got ${describe(key)}.`,
    );
  }
  const placeholders = [...key.matchAll(PLACEHOLDER)].map((match) => {
    const read = syntax.placeholder(match[1]);
    if (!read) {
      throw new InvalidLockOptionsError(
        `${syntax.label}: placeholder {${match[1]}} is not ${syntax.form}; use a key function for anything else.`,
      );
    }
    return { text: `{${match[1]}}`, read };
  });
  if (placeholders.length === 0) {
    const fixed = [assertLockKey(key, `${syntax.label}: key`)];
    return () => fixed;
  }
  return (source) => {
    let index = 0;
    const rendered = key.replace(PLACEHOLDER, () => {
      const placeholder = placeholders[index++];
      return renderValue(placeholder.read(source), placeholder.text, syntax);
    });
    return [assertLockKey(rendered, `${syntax.label}: key "${key}"`)];
  };
}

function renderValue(value: unknown, placeholder: string, syntax: Pick<LockKeySyntax<unknown>, 'label' | 'consequence'>): string {
  if ((typeof value === 'string' && value !== '') || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  throw new InvalidLockOptionsError(
    `${syntax.label}: placeholder ${placeholder} is ${describe(value)}; it must be a non-empty string or a finite number. ${syntax.consequence}`,
  );
}

function checkComputed(value: unknown, syntax: Pick<LockKeySyntax<unknown>, 'label' | 'consequence'>): string[] {
  const keys = Array.isArray(value) ? value : [value];
  if (keys.length === 0) {
    throw new InvalidLockOptionsError(`${syntax.label}: the key function returned an empty array. ${syntax.consequence}`);
  }
  return keys.map((key: unknown) => assertLockKey(key, `${syntax.label}: the key function's result`));
}

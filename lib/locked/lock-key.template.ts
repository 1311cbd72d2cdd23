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

/** A placeholder (`{...}` without braces inside), or a brace that is not part of one. */
const TOKEN = /\{([^{}]*)\}|[{}]/g;

/** A template's placeholder: its text as written, and how it reads the source. */
interface Placeholder<C> {
  readonly text: string;
  readonly read: (source: C) => unknown;
}

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
  const { literals, placeholders } = parseTemplate(key, syntax);
  if (placeholders.length === 0) {
    const fixed = [assertLockKey(key, `${syntax.label}: key`)];
    return () => fixed;
  }
  return (source) => {
    const rendered = placeholders.reduce(
      (text, placeholder, index) => text + renderValue(placeholder.read(source), placeholder.text, syntax) + literals[index + 1],
      literals[0],
    );
    return [assertLockKey(rendered, `${syntax.label}: key "${key}"`)];
  };
}

/**
 * Splits a template into its literal text and its placeholders, refusing a malformed one: a `{` never closed, a `}`
 * that closes nothing, an empty `{}`, or a placeholder the syntax cannot read. A malformed template would otherwise
 * lock one fixed key for every call.
 */
function parseTemplate<C>(key: string, syntax: LockKeySyntax<C>): { literals: string[]; placeholders: Array<Placeholder<C>> } {
  const literals: string[] = [];
  const placeholders: Array<Placeholder<C>> = [];
  let from = 0;
  for (const match of key.matchAll(TOKEN)) {
    const at = match.index;
    if (match[1] === undefined) {
      throw malformedTemplate(
        key,
        match[0] === '{' ? `has an unclosed { at character ${at + 1}` : `has a } that closes nothing at character ${at + 1}`,
        syntax,
      );
    }
    if (match[1] === '') {
      throw malformedTemplate(key, 'has an empty placeholder {}', syntax);
    }
    const read = syntax.placeholder(match[1]);
    if (!read) {
      throw new InvalidLockOptionsError(
        `${syntax.label}: placeholder {${match[1]}} is not ${syntax.form}; use a key function for anything else.`,
      );
    }
    literals.push(key.slice(from, at));
    placeholders.push({ text: match[0], read });
    from = at + match[0].length;
  }
  literals.push(key.slice(from));
  return { literals, placeholders };
}

function malformedTemplate(key: string, problem: string, syntax: Pick<LockKeySyntax<unknown>, 'label' | 'form'>): InvalidLockOptionsError {
  return new InvalidLockOptionsError(
    `${syntax.label}: key template ${JSON.stringify(key)} ${problem}. Placeholders are ${syntax.form}; ` +
      `use a key function for a key with a literal brace.`,
  );
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

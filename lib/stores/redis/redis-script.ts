import { createHash } from 'node:crypto';

/** What an argument of a script is to Lua: a string as it came, or a number (`tonumber`). */
type ArgumentKind = 'string' | 'number';

/** How a script is declared: its KEYS and ARGV by name, and its Lua, fast path first. */
export interface ScriptDefinition<K extends string, A extends string> {
  /** What it does, for messages and the script's first line. */
  readonly name: string;
  /**
   * KEYS by name, in order: Lua gets a local of each name. With `repeated`, KEYS is that group once per lock key, and
   * the script walks the groups with `for <names> in key_sets() do`.
   */
  readonly keys: readonly K[];
  /** The KEYS are this group, repeated once per lock key (several keys at once). */
  readonly repeated?: boolean;
  /** ARGV by name, in order, with what each is to Lua: Lua gets a local of each name. */
  readonly args: { readonly [name in A]: ArgumentKind };
  /** One line on what the script guarantees. */
  readonly guarantees: string;
  /** The few helpers the fast path needs, defined before it. */
  readonly fastLua?: readonly string[];
  /** The common case, run before the other helpers are defined (defining them costs each run): it may `return`. */
  readonly fast?: string;
  /** Shared Lua the rest needs (see redis-lua.snippets.ts). */
  readonly lua?: readonly string[];
  /** The rest of the script. */
  readonly body: string;
  /** Running it late, after its caller gave up on it, does no harm (a token-checked clean-up). */
  readonly idempotent?: boolean;
}

/** A Lua script with its SHA1, run with EVALSHA and sent whole only when Redis does not know it yet. */
export interface LockScript<K extends string = string, A extends string = string> {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  /** Running it late, after its caller gave up on it, does no harm (a token-checked clean-up). */
  readonly idempotent: boolean;
  /**
   * KEYS and ARGV in the script's order, from named values: the one place a call of this script is put together.
   * @param keys the keys by name (each an array of one per lock key for a `repeated` script)
   * @param args the arguments by name
   */
  call(keys: KeysOf<K>, args: { readonly [name in A]: string | number }): ScriptCall;
}

/** The keys of one lock key, by name. */
export type KeysOf<K extends string> = { readonly [name in K]: string } | ReadonlyArray<{ readonly [name in K]: string }>;

/** One run of a script: its KEYS and ARGV. */
export interface ScriptCall {
  readonly keys: string[];
  readonly args: Array<string | number>;
}

/**
 * Declares a script: Lua gets a named local for every KEYS[i] and ARGV[i] (numbers already converted), then the
 * fast path, the shared Lua and the rest.
 * @param definition the script
 */
export function defineScript<K extends string, A extends string>(definition: ScriptDefinition<K, A>): LockScript<K, A> {
  const argNames = Object.keys(definition.args) as A[];
  const argLocals = argNames
    .map((name, i) => `local ${name} = ${definition.args[name] === 'number' ? `tonumber(ARGV[${i + 1}])` : `ARGV[${i + 1}]`}`)
    .join('\n');
  const size = definition.keys.length;
  const keyLocals = definition.repeated
    ? [
        '-- KEYS is one group per lock key: for ' + definition.keys.join(', ') + ' in key_sets() do ... end',
        'local function key_sets()',
        `  local i = 1 - ${size}`,
        '  return function()',
        `    i = i + ${size}`,
        '    if KEYS[i] then',
        `      return ${definition.keys.map((_, j) => `KEYS[i + ${j}]`).join(', ')}`,
        '    end',
        '  end',
        'end',
      ].join('\n')
    : `local ${definition.keys.join(', ')} = ${definition.keys.map((_, j) => `KEYS[${j + 1}]`).join(', ')}`;
  const source = [
    `-- ${definition.name}. Guarantees: ${definition.guarantees}`,
    keyLocals,
    argLocals,
    ...(definition.fastLua ?? []),
    definition.fast ?? '',
    ...(definition.lua ?? []),
    definition.body,
  ].join('\n');
  return {
    name: definition.name,
    source,
    sha: createHash('sha1').update(source).digest('hex'),
    idempotent: definition.idempotent ?? false,
    call: (keys, args) => ({
      keys: (Array.isArray(keys) ? keys : [keys]).flatMap((group: { readonly [name in K]: string }) =>
        definition.keys.map((name) => group[name]),
      ),
      args: argNames.map((name) => args[name]),
    }),
  };
}

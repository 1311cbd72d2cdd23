import { MAX_KEY_BYTES } from '../lock.constants.js';
import { InvalidLockOptionsError } from '../errors/index.js';
import { describe } from '../utils/describe.util.js';

/**
 * Checks one key and returns it. A key is a non-empty, non-blank string of at most 1024 UTF-8 bytes.
 * @param key the candidate
 * @param where names the key in the error, e.g. `key` or `Orders.confirm key {0}`
 */
export function assertLockKey(key: unknown, where = 'key'): string {
  if (typeof key !== 'string') {
    throw new InvalidLockOptionsError(`${where} must be a string, got ${describe(key)}.`);
  }
  if (key.trim() === '') {
    throw new InvalidLockOptionsError(`${where} must not be empty or blank, got ${JSON.stringify(key)}.`);
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidLockOptionsError(
      `${where} is ${bytes} bytes long; keys are limited to ${MAX_KEY_BYTES} bytes. Hash long inputs into the key.`,
    );
  }
  return key;
}

/**
 * Turns a key or key array into a checked, de-duplicated array.
 * @param key a key or a non-empty array of keys
 */
export function normalizeLockKeys(key: unknown): string[] {
  if (!Array.isArray(key)) {
    return [assertLockKey(key)];
  }
  if (key.length === 0) {
    throw new InvalidLockOptionsError('key array must hold at least one key.');
  }
  return [...new Set(key.map((one: unknown, index) => assertLockKey(one, `key[${index}]`)))];
}

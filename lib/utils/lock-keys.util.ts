/**
 * Renders a lock's keys for a message: `"a"` for one key, `["a","b"]` for several.
 * @param keys keys as the caller named them
 */
export function formatKeys(keys: readonly string[]): string {
  return keys.length === 1 ? JSON.stringify(keys[0]) : JSON.stringify(keys);
}

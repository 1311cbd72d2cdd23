import { createHash } from 'node:crypto';

/** A Lua script with its SHA1, run with EVALSHA and sent whole only when Redis does not know it yet. */
export interface LockScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LockScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * KEYS: lock keys 1..n, then their fencing counters 1..n. ARGV: token, ttl ms, fence retention ms.
 * Returns {1, fencingToken} or {0, pttl of the blocking key}.
 */
export const ACQUIRE_SCRIPT = script(`
-- Guarantees: all keys are taken for the token or none is, with a fencing token above every earlier one of each key (and above the server clock in us, so it still grows after a counter is lost).
local n = #KEYS / 2
for i = 1, n do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl ~= -2 then
    return {0, pttl}
  end
end
local now = redis.call('TIME')
local fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
for i = n + 1, #KEYS do
  local seen = tonumber(redis.call('GET', KEYS[i]) or '0')
  if seen >= fence then
    fence = seen + 1
  end
end
fence = string.format('%d', fence)
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[n + i], fence, 'PX', ARGV[3])
end
return {1, fence}
`);

/** KEYS: lock keys. ARGV: token. Returns how many keys it deleted. */
export const RELEASE_SCRIPT = script(`
-- Guarantees: deletes only keys that still hold this token (never another holder's) and publishes each release in the same atomic step.
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    redis.call('PUBLISH', KEYS[i], ARGV[1])
    released = released + 1
  end
end
return released
`);

/** KEYS: lock keys. ARGV: token, ttl ms. Returns 1 if extended, 0 if not. */
export const EXTEND_SCRIPT = script(`
-- Guarantees: resets the lease only if every key still holds this token; a key that is gone is never re-created.
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then
    return 0
  end
end
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
`);

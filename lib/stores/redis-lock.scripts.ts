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
 * Payload of a release message when nobody is queued: any waiter may try. Otherwise the payload is
 * `<head token> <ms until the head's deadline>`: the head tries, the others re-check when the head's turn
 * would end (in case it died).
 */
export const ANYONE = '*';

/** Shared Lua: the server clock in ms and us (TIME is only asked for where it is needed). */
const CLOCK = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/**
 * Shared Lua: the next fencing token of a key. An existing counter just grows by one; a missing one (never
 * locked, evicted, or Redis restarted empty) starts from the server clock in us, which is above every token
 * issued before as long as the server clock does not go back.
 */
const FENCE = `
local function next_fence(fence_key, at_least)
  local seen = redis.call('GET', fence_key)
  local fence
  if seen then
    fence = tonumber(seen) + 1
  else
    local _, now_us = clock()
    fence = now_us
  end
  if at_least and at_least > fence then
    return at_least
  end
  return fence
end
`;

/**
 * Shared Lua: the waiter queue of one key (a ZSET ordered by arrival and a ZSET of deadlines), from which
 * waiters whose deadline passed are dropped before anyone looks at it; and the release announcement.
 */
const QUEUE = `
local function queue_head(queue, deadlines, now)
  local dead = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now)
  for i = 1, #dead do
    redis.call('ZREM', queue, dead[i])
  end
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', deadlines, '-inf', now)
  end
  return redis.call('ZRANGE', queue, 0, 0)[1]
end
local function announce(lock, queue, deadlines)
  if redis.call('EXISTS', queue) == 0 then
    redis.call('PUBLISH', lock, '${ANYONE}')
    return
  end
  local now = clock()
  local head = queue_head(queue, deadlines, now)
  if head then
    redis.call('PUBLISH', lock, head .. ' ' .. string.format('%d', tonumber(redis.call('ZSCORE', deadlines, head)) - now))
  else
    redis.call('PUBLISH', lock, '${ANYONE}')
  end
end
`;

/**
 * Single key, fair. KEYS: lock, fence, queue, deadlines. ARGV: token, ttl ms, fence retention ms, wait ms.
 * Returns {1, fencingToken} or {0, ms after which to re-check}.
 */
export const FAIR_ACQUIRE_SCRIPT = script(`${CLOCK}${FENCE}${QUEUE}
-- Guarantees: the lock goes to the token only if it is free and no live waiter queued before it (FIFO); a waiter that may wait joins the queue with its deadline; the fencing token is above every earlier one of the key.
local queued = redis.call('EXISTS', KEYS[3]) == 1
local now, head
if queued then
  now = clock()
  head = queue_head(KEYS[3], KEYS[4], now)
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 and (not head or head == ARGV[1]) then
  local fence = string.format('%d', next_fence(KEYS[2]))
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[2], fence, 'PX', ARGV[3])
  if head then
    redis.call('ZREM', KEYS[3], ARGV[1])
    redis.call('ZREM', KEYS[4], ARGV[1])
  end
  return {1, fence}
end
local wait = tonumber(ARGV[4])
if wait > 0 then
  local now_us
  now, now_us = clock()
  redis.call('ZADD', KEYS[3], 'NX', now_us, ARGV[1])
  redis.call('ZADD', KEYS[4], now + wait, ARGV[1])
  if redis.call('PTTL', KEYS[3]) < wait then
    redis.call('PEXPIRE', KEYS[3], wait)
    redis.call('PEXPIRE', KEYS[4], wait)
  end
end
if pttl == -2 then
  local head_deadline = tonumber(redis.call('ZSCORE', KEYS[4], head))
  return {0, math.max(1, math.min(head_deadline - now, tonumber(ARGV[2])))}
end
return {0, pttl}
`);

/**
 * Several keys, not queued. KEYS: lock keys 1..n, then their fencing counters 1..n. ARGV: token, ttl ms,
 * fence retention ms. Returns {1, fencingToken} or {0, pttl of the blocking key}.
 */
export const ACQUIRE_SCRIPT = script(`${CLOCK}${FENCE}
-- Guarantees: all keys are taken for the token or none is, with one fencing token above every earlier one of each key.
local n = #KEYS / 2
for i = 1, n do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl ~= -2 then
    return {0, pttl}
  end
end
local fence
for i = n + 1, #KEYS do
  fence = next_fence(KEYS[i], fence)
end
fence = string.format('%d', fence)
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[n + i], fence, 'PX', ARGV[3])
end
return {1, fence}
`);

/** KEYS: per key: lock, queue, deadlines. ARGV: token. Returns how many keys it deleted. */
export const RELEASE_SCRIPT = script(`${CLOCK}${QUEUE}
-- Guarantees: deletes only keys that still hold this token (never another holder's) and, in the same atomic step, tells the head of each key's queue (or anyone) that it is free.
local released = 0
for i = 1, #KEYS, 3 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    announce(KEYS[i], KEYS[i + 1], KEYS[i + 2])
    released = released + 1
  end
end
return released
`);

/** KEYS: per key: lock, queue, deadlines. ARGV: token. */
export const LEAVE_SCRIPT = script(`${CLOCK}${QUEUE}
-- Guarantees: removes the waiter from each key's queue, and wakes the next head if the lock is free, so giving up never stalls the queue.
for i = 1, #KEYS, 3 do
  redis.call('ZREM', KEYS[i + 1], ARGV[1])
  redis.call('ZREM', KEYS[i + 2], ARGV[1])
  if redis.call('EXISTS', KEYS[i]) == 0 then
    announce(KEYS[i], KEYS[i + 1], KEYS[i + 2])
  end
end
return 1
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

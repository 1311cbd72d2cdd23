import { FENCE_BLOCK } from '../../lock.constants.js';
import { CLOCK, FENCE, QUEUE, script } from './redis-lua.snippets.js';

/**
 * Single key. KEYS: lock, fence, queue, deadlines. ARGV: token, ttl ms, fence retention ms, wait ms, starvation
 * bound ms (0: strict FIFO). Returns {1, fencingToken} (the first of a block of ${FENCE_BLOCK}), {0, ms after which
 * to re-check, the key's last fencing token}, or {2, tag} when a semaphore of that tag holds the key. Read locks
 * hold it like any other holder: a writer queues behind them.
 */
export const FAIR_ACQUIRE_SCRIPT = script(`${CLOCK}${FENCE}${QUEUE}
-- Guarantees: the lock goes to the token only if it is free and either nobody is queued, the token heads the queue, or the head has waited less than the starvation bound (a bounded barge); or if a release already handed it to the token (its lease is then renewed to ttl). A waiter that may wait holds a place in the queue for the wait it gives.
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, issue_fence(KEYS[2], ARGV[3], ${FENCE_BLOCK})}
end
local member = ARGV[1] .. '|' .. ARGV[2]
local holder = redis.call('GET', KEYS[1])
if holder and string.sub(holder, 1, 2) == '*s' then
  return {2, string.sub(holder, 2)}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local last = redis.call('GET', KEYS[2])
  if last then
    return {1, tonumber(last) - ${FENCE_BLOCK - 1}}
  end
  return {1, issue_fence(KEYS[2], ARGV[3], ${FENCE_BLOCK})}
end
local now, now_us = clock()
local head, since = queue_head(KEYS[3], KEYS[4], now)
local starvation = tonumber(ARGV[5])
if not holder and (not head or head == member or (starvation > 0 and now_us - since < starvation * 1000)) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  return {1, issue_fence(KEYS[2], ARGV[3], ${FENCE_BLOCK})}
end
local wait = tonumber(ARGV[4])
if wait > 0 then
  enqueue(KEYS[3], KEYS[4], member, now, now_us, wait)
end
local last = redis.call('GET', KEYS[2]) or '0'
if not holder then
  return {0, math.max(1, math.min(tonumber(redis.call('ZSCORE', KEYS[4], head)) - now, tonumber(ARGV[2]))), last}
end
return {0, redis.call('PTTL', KEYS[1]), last}
`);

/**
 * Several keys, not queued. KEYS: lock keys 1..n, then their fencing counters 1..n. ARGV: token, ttl ms,
 * fence retention ms. Returns {1, fencingToken} or {0, pttl of the blocking key}. Like every grant, it reserves a
 * block of ${FENCE_BLOCK} tokens, so a key's counter always holds the end of its last grant's block.
 */
export const ACQUIRE_SCRIPT = script(`${CLOCK}
-- Guarantees: all keys are taken for the token or none is, with one fencing token above every earlier one of each key; keys the token holds already (an earlier attempt whose answer was lost) count as its own.
local n = #KEYS / 2
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= ARGV[1] then
    return {0, redis.call('PTTL', KEYS[i])}
  end
end
local _, fence = clock()
for i = n + 1, #KEYS do
  fence = math.max(fence, tonumber(redis.call('GET', KEYS[i]) or '0') + 1)
end
local last = string.format('%d', fence + ${FENCE_BLOCK - 1})
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[n + i], last, 'PX', ARGV[3])
end
return {1, string.format('%d', fence)}
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

/** KEYS: fencing counters. ARGV: the first fencing token of a grant, fence retention ms. */
export const RAISE_FENCE_SCRIPT = script(`
-- Guarantees: a fencing counter never goes down: each becomes at least the end of the given token's block.
local last = tonumber(ARGV[1]) + ${FENCE_BLOCK - 1}
for i = 1, #KEYS do
  local seen = tonumber(redis.call('GET', KEYS[i]) or '0')
  if seen < last then
    redis.call('SET', KEYS[i], string.format('%d', last), 'PX', ARGV[2])
  end
end
return 1
`);

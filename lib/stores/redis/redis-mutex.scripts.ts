import { FENCE_BLOCK } from '../../lock.constants.js';
import { CLOCK, FENCE, QUEUE } from './redis-lua.snippets.js';
import { defineScript } from './redis-script.js';

/**
 * Takes one key for an exclusive holder. Returns {1, fencingToken} (the first of a block of ${FENCE_BLOCK}), {0, ms
 * after which to re-check, the key's last fencing token}, or {2, tag} when a semaphore of that tag holds the key.
 * Read locks hold it like any other holder: a writer queues behind them.
 */
export const MUTEX_ACQUIRE = defineScript({
  name: 'Take one key exclusively',
  guarantees:
    'the lock goes to the token only if it is free and either nobody is queued, the token heads the queue, or the head has waited less than the starvation bound (a bounded barge); or if a release already handed it to the token (its lease is then renewed to ttl). A waiter that may wait holds a place in the queue for the wait it gives.',
  keys: ['lock', 'fence', 'queue', 'deadlines'],
  args: { token: 'string', ttl: 'string', retention: 'number', wait: 'number', starvation: 'number' },
  fastLua: [CLOCK, FENCE],
  fast: `
if redis.call('EXISTS', queue) == 0 and redis.call('SET', lock, token, 'NX', 'PX', ttl) then
  return {1, issue_fence(fence, retention, ${FENCE_BLOCK})}
end`,
  lua: [QUEUE],
  body: `
-- ttl is kept as text: it is part of the queue member, which leave and release rebuild from the same text.
local member = token .. '|' .. ttl
local holder = redis.call('GET', lock)
if holder and string.sub(holder, 1, 2) == '*s' then
  return {2, string.sub(holder, 2)}
end
if holder == token then
  -- Handed to this token by a release: the hand-off issued its fencing block, whose end the counter holds.
  redis.call('PEXPIRE', lock, ttl)
  local last = redis.call('GET', fence)
  if last then
    return {1, tonumber(last) - ${FENCE_BLOCK - 1}}
  end
  return {1, issue_fence(fence, retention, ${FENCE_BLOCK})}
end
local now, now_us = clock()
local head, since = queue_head(queue, deadlines, now)
if not holder and (not head or head == member or (starvation > 0 and now_us - since < starvation * 1000)) then
  redis.call('SET', lock, token, 'PX', ttl)
  dequeue(queue, deadlines, member)
  return {1, issue_fence(fence, retention, ${FENCE_BLOCK})}
end
if wait > 0 then
  enqueue(queue, deadlines, member, now, now_us, wait)
end
local last = redis.call('GET', fence) or '0'
if not holder then
  -- A free key kept for the head: it may take it and let its lease run out unannounced, so ask again within its ttl.
  local head_ttl = tonumber(string.match(head, '^[^|]*|(%d+)')) or tonumber(ttl)
  return {0, math.max(1, math.min(tonumber(redis.call('ZSCORE', deadlines, head)) - now, tonumber(ttl), head_ttl)), last}
end
return {0, redis.call('PTTL', lock), last}`,
});

/**
 * Takes several keys exclusively, not queued (KEYS: per key, its lock and its fencing counter). Returns
 * {1, fencingToken} or {0, pttl of the blocking key}. Like every exclusive grant it reserves a block of
 * ${FENCE_BLOCK} tokens, so a key's counter always holds the end of its last grant's block.
 */
export const MULTI_ACQUIRE = defineScript({
  name: 'Take several keys exclusively',
  guarantees:
    'all keys are taken for the token or none is, with one fencing token above every earlier one of each key; keys the token holds already (an earlier attempt whose answer was lost) count as its own.',
  keys: ['lock', 'fence'],
  repeated: true,
  args: { token: 'string', ttl: 'string', retention: 'number' },
  lua: [CLOCK],
  body: `
for lock in key_sets() do
  local holder = redis.call('GET', lock)
  if holder and holder ~= token then
    return {0, redis.call('PTTL', lock)}
  end
end
local _, fencing = clock()
for _, fence in key_sets() do
  fencing = math.max(fencing, tonumber(redis.call('GET', fence) or '0') + 1)
end
local last = format(fencing + ${FENCE_BLOCK - 1})
for lock, fence in key_sets() do
  redis.call('SET', lock, token, 'PX', ttl)
  redis.call('SET', fence, last, 'PX', retention)
end
return {1, format(fencing)}`,
});

/** Renews an exclusive lease. Returns 1 if extended, 0 if not. */
export const MUTEX_EXTEND = defineScript({
  name: 'Extend an exclusive lock',
  guarantees: 'resets the lease only if every key still holds this token; a key that is gone is never re-created.',
  keys: ['lock'],
  repeated: true,
  args: { token: 'string', ttl: 'string' },
  body: `
for lock in key_sets() do
  if redis.call('GET', lock) ~= token then
    return 0
  end
end
for lock in key_sets() do
  redis.call('PEXPIRE', lock, ttl)
end
return 1`,
});

/** Raises fencing counters to the end of a grant's block (the quorum store's write-back). */
export const RAISE_FENCE = defineScript({
  name: 'Record a fencing token',
  guarantees: "a fencing counter never goes down: each becomes at least the end of the given token's block.",
  keys: ['fence'],
  repeated: true,
  args: { fencing: 'number', retention: 'number' },
  body: `
local last = fencing + ${FENCE_BLOCK - 1}
for fence in key_sets() do
  local seen = tonumber(redis.call('GET', fence) or '0')
  if seen < last then
    redis.call('SET', fence, string.format('%d', last), 'PX', retention)
  end
end
return 1`,
});

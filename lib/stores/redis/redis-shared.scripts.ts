import { CLOCK, FENCE, QUEUE, SHARED } from './redis-lua.snippets.js';
import { defineScript } from './redis-script.js';

/**
 * A shared hold of one key: a read lock (tag 'r') or a semaphore permit (tag 's<limit>'). Returns {1, fencingToken},
 * {0, ms after which to re-check, the key's last fencing token}, or {2, tag} when the key's holders share it
 * otherwise ('x': an exclusive holder, which a reader waits for instead).
 */
export const SHARED_ACQUIRE = defineScript({
  name: 'Take a read lock or a semaphore permit',
  guarantees:
    'admits the token only while the key is free or shared the same way with room left, and only if every waiter queued before it is of the same share and fits too (FIFO: a reader never passes a queued writer); a hold handed to it by a release is renewed to ttl; each admission gets a fencing token above every earlier one of the key.',
  keys: ['lock', 'fence', 'queue', 'deadlines', 'holders'],
  args: { token: 'string', ttl: 'string', retention: 'number', wait: 'number', tag: 'string' },
  lua: [CLOCK, FENCE, QUEUE, SHARED],
  body: `
-- ttl is kept as text: it is part of the queue member, which leave and release rebuild from the same text.
local member = token .. '|' .. ttl .. '|' .. tag
local lease = tonumber(ttl)
local now = clock()
local held = redis.call('GET', lock)
local count = 0
if held and held ~= '*' .. tag then
  if string.sub(held, 1, 1) == '*' then
    return {2, string.sub(held, 2)}
  elseif tag ~= 'r' then
    return {2, 'x'}
  end
elseif held then
  count = live_holders(holders, now)
  if redis.call('ZSCORE', holders, token) then
    hold_shared(lock, holders, token, tag, lease, now)
    dequeue(queue, deadlines, member)
    return {1, issue_fence(fence, retention, 1)}
  end
end
local room = capacity(tag) - count
local blocked = (held and held ~= '*' .. tag) or room <= 0
if not blocked then
  local head = queue_head(queue, deadlines, now)
  if head then
    local rank = redis.call('ZRANK', queue, member) or redis.call('ZCARD', queue)
    blocked = rank >= room
    if not blocked and rank > 0 then
      local before = redis.call('ZRANGE', queue, 0, rank - 1)
      for i = 1, #before do
        if string.sub(before[i], -#tag - 1) ~= '|' .. tag then
          blocked = true
          break
        end
      end
    end
  end
end
if not blocked then
  hold_shared(lock, holders, token, tag, lease, now)
  dequeue(queue, deadlines, member)
  return {1, issue_fence(fence, retention, 1)}
end
if wait > 0 then
  local _, now_us = clock()
  enqueue(queue, deadlines, member, now, now_us, wait)
end
local last = redis.call('GET', fence) or '0'
local recheck = redis.call('PTTL', lock)
if held == '*' .. tag and room <= 0 then
  recheck = tonumber(redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')[2]) - now
elseif recheck < 0 then
  recheck = lease
end
return {0, math.max(1, math.min(recheck, lease)), last}`,
});

/** Renews a shared hold of every key. Returns 1 if extended, 0 if not. */
export const SHARED_EXTEND = defineScript({
  name: 'Extend a read lock or a semaphore permit',
  guarantees: "renews the token's shared hold of every key to ttl only while each still runs; a hold that ended is never re-created.",
  keys: ['lock', 'holders'],
  repeated: true,
  args: { token: 'string', ttl: 'number', tag: 'string' },
  lua: [CLOCK, SHARED],
  body: `
local now = clock()
for lock, holders in key_sets() do
  local lease_end = redis.call('ZSCORE', holders, token)
  if redis.call('GET', lock) ~= '*' .. tag or not lease_end or tonumber(lease_end) <= now then
    return 0
  end
end
for lock, holders in key_sets() do
  hold_shared(lock, holders, token, tag, ttl, now)
end
return 1`,
});

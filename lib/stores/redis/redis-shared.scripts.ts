import { script, SHARED_ACQUIRE_LUA, SHARED_EXTEND_LUA } from './redis-lua.snippets.js';

/**
 * A shared hold of one key: a read lock (tag 'r') or a semaphore permit (tag 's<limit>'). KEYS: the key's
 * `keySet` (lock, fence, queue, deadlines, holders). ARGV: token, ttl ms, fence retention ms, wait ms, tag.
 * Returns {1, fencingToken}, {0, ms after which to re-check, the key's last fencing token}, or {2, tag} when the
 * key's holders share it otherwise ('x': an exclusive holder, which a reader waits for instead).
 */
export const SHARED_ACQUIRE_SCRIPT = script(`${SHARED_ACQUIRE_LUA}
-- Guarantees: admits the token only while the key is free or shared the same way with room left, and only if every waiter queued before it is of the same share and fits too (FIFO: a reader never passes a queued writer); a hold handed to it by a release is renewed to ttl; each admission gets a fencing token above every earlier one of the key.
local token, ttl, tag = ARGV[1], tonumber(ARGV[2]), ARGV[5]
local member = token .. '|' .. ARGV[2] .. '|' .. tag
local now = clock()
local held = redis.call('GET', KEYS[1])
local count = 0
if held and held ~= '*' .. tag then
  if string.sub(held, 1, 1) == '*' then
    return {2, string.sub(held, 2)}
  elseif tag ~= 'r' then
    return {2, 'x'}
  end
elseif held then
  count = live_holders(KEYS[5], now)
  if redis.call('ZSCORE', KEYS[5], token) then
    hold_shared(KEYS[1], KEYS[5], token, tag, ttl, now)
    redis.call('ZREM', KEYS[3], member)
    redis.call('ZREM', KEYS[4], member)
    return {1, issue_fence(KEYS[2], ARGV[3], 1)}
  end
end
local room = capacity(tag) - count
local blocked = (held and held ~= '*' .. tag) or room <= 0
if not blocked then
  local head = queue_head(KEYS[3], KEYS[4], now)
  if head then
    local rank = redis.call('ZRANK', KEYS[3], member) or redis.call('ZCARD', KEYS[3])
    blocked = rank >= room
    if not blocked and rank > 0 then
      local before = redis.call('ZRANGE', KEYS[3], 0, rank - 1)
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
  hold_shared(KEYS[1], KEYS[5], token, tag, ttl, now)
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  return {1, issue_fence(KEYS[2], ARGV[3], 1)}
end
local wait = tonumber(ARGV[4])
if wait > 0 then
  local _, now_us = clock()
  enqueue(KEYS[3], KEYS[4], member, now, now_us, wait)
end
local last = redis.call('GET', KEYS[2]) or '0'
local recheck = redis.call('PTTL', KEYS[1])
if held == '*' .. tag and room <= 0 then
  recheck = tonumber(redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')[2]) - now
elseif recheck < 0 then
  recheck = ttl
end
return {0, math.max(1, math.min(recheck, ttl)), last}
`);

/** KEYS: per key: lock, holders. ARGV: token, ttl ms, tag. Returns 1 if extended, 0 if not. */
export const SHARED_EXTEND_SCRIPT = script(`${SHARED_EXTEND_LUA}
-- Guarantees: renews the token's shared hold of every key to ttl only while each still runs; a hold that ended is never re-created.
local now = clock()
for i = 1, #KEYS, 2 do
  local lease_end = redis.call('ZSCORE', KEYS[i + 1], ARGV[1])
  if redis.call('GET', KEYS[i]) ~= '*' .. ARGV[3] or not lease_end or tonumber(lease_end) <= now then
    return 0
  end
end
for i = 1, #KEYS, 2 do
  hold_shared(KEYS[i], KEYS[i + 1], ARGV[1], ARGV[3], tonumber(ARGV[2]), now)
end
return 1
`);

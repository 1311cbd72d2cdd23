import { FENCE_BLOCK } from '../../lock.constants.js';

/** Release message: the lock is free and nobody is queued, any waiter may try. */
export const ANYONE = '*';

/** First word of a hand-off message: `G <token> <fencing token> <lease ms>`, the lock now belongs to `token`. */
export const GRANTED = 'G';

/**
 * First word of a wake-up: `W <token> <ms>`, the lock is free and `token`, the head of the queue, may take it
 * (its wait has not reached the starvation bound, so a running caller may take it first); the others re-check
 * within `ms` (the head's wait left, at most the bound).
 */
export const WOKEN = 'W';

/** First word of a kept release (a minimum hold, or shared holders still in): `K <ms>`, the key is free after that. */
export const KEPT = 'K';

/** Shared Lua: the server clock in ms and us, asked once per script run (TIME only where it is needed). */
export const CLOCK = `
local clock_ms, clock_us
local function clock()
  if not clock_ms then
    local t = redis.call('TIME')
    clock_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    clock_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return clock_ms, clock_us
end
local function format(n)
  return string.format('%d', n)
end
`;

/**
 * Shared Lua: fencing tokens. A grant takes the next block of \`block\` tokens (${FENCE_BLOCK} for an exclusive grant,
 * whose holder's process may pass the lock on to its own callers with the rest), starting at
 * \`max(last + 1, server clock in us)\`, and the counter holds the block's end, so every later grant is higher. The
 * clock keeps tokens growing where the counter is gone or behind (evicted, Redis restarted empty, a replica promoted
 * before it received the last writes), as long as the clock does not go back by more than that took. One SET ... GET
 * on the common path: reading the old value and writing the new one is one command, and the old value only matters
 * when it is ahead of the clock. The counter outlives its last grant by \`retention\`. Needs CLOCK.
 */
export const FENCE = `
local function issue_fence(fence_key, retention, block)
  local _, now = clock()
  local last = redis.call('SET', fence_key, format(now + block - 1), 'KEEPTTL', 'GET')
  if last and tonumber(last) >= now then
    now = tonumber(last) + 1
    redis.call('SET', fence_key, format(now + block - 1), 'KEEPTTL')
  end
  -- A new counter gets its retention; a busy one has it renewed now and then (1 grant in 128, by the clock's
  -- last digits), which costs far less than stating the expiry on every grant.
  if not last or now % 128 == 0 then
    redis.call('PEXPIRE', fence_key, retention)
  end
  return now
end
`;

/** Shared Lua: release messages on classic pub/sub (every node of a Cluster forwards them to every other). */
export const PUBLISH = `
local function publish(channel, message)
  redis.call('PUBLISH', channel, message)
end
`;

/**
 * Shared Lua: release messages on sharded pub/sub (Redis 7), which keeps them on the shard that owns the lock's
 * slot; on an older server, where SPUBLISH is unknown, on classic pub/sub.
 */
export const SHARDED_PUBLISH = `
local function publish(channel, message)
  local sent = redis.pcall('SPUBLISH', channel, message)
  if type(sent) == 'table' and sent.err then
    redis.call('PUBLISH', channel, message)
  end
end
`;

/**
 * Shared Lua: the waiter queue of one key (a ZSET of members (see MEMBER) by arrival in us, and a ZSET of the same
 * members by the end of their place in ms), from which waiters whose place ended are dropped before anyone looks at
 * it. \`queue_head\` returns the head and when it arrived (us); \`enqueue\` adds a waiter (or keeps its place, until a
 * new end), and the queue lives as long as its last place. A place lasts the wait the caller gives, which the caller
 * keeps short and renews by asking again (see MIN_WAITER_PLACE): a waiter that died soon gives up its place.
 */
export const QUEUE = `
local function queue_head(queue, deadlines, now)
  local dead = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now)
  for i = 1, #dead do
    redis.call('ZREM', queue, dead[i])
  end
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', deadlines, '-inf', now)
  end
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  return head[1], tonumber(head[2])
end
local function enqueue(queue, deadlines, member, now, now_us, wait)
  redis.call('ZADD', queue, 'NX', now_us, member)
  redis.call('ZADD', deadlines, now + wait, member)
  if redis.call('PTTL', queue) < wait then
    redis.call('PEXPIRE', queue, wait)
    redis.call('PEXPIRE', deadlines, wait)
  end
end
local function dequeue(queue, deadlines, member)
  redis.call('ZREM', queue, member)
  redis.call('ZREM', deadlines, member)
end
`;

/**
 * Shared Lua: queue members. An exclusive waiter is '<token>|<ttl>', a shared one '<token>|<ttl>|<tag>' (tag 'r' a
 * reader, 's<N>' a permit of a semaphore of limit N). Returns the token, the ttl and the tag (nil: exclusive).
 */
export const MEMBER = `
local function parse_member(member)
  local a = string.find(member, '|', 1, true)
  local b = string.find(member, '|', a + 1, true)
  if not b then
    return string.sub(member, 1, a - 1), tonumber(string.sub(member, a + 1)), nil
  end
  return string.sub(member, 1, a - 1), tonumber(string.sub(member, a + 1, b - 1)), string.sub(member, b + 1)
end
`;

/**
 * Shared Lua: shared holds. The lock key holds the marker '*<tag>' instead of a token while shared holders have it
 * (so an exclusive SET NX fails, and a caller sharing it otherwise sees how), with a lease as long as the longest
 * holder's; the holders are a ZSET of tokens by lease end (server ms), whose own expiry is never shorter.
 */
export const SHARED = `
local function capacity(tag)
  if tag == 'r' then
    return math.huge
  end
  return tonumber(string.sub(tag, 2))
end
local function live_holders(holders, now)
  redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
  return redis.call('ZCARD', holders)
end
local function hold_shared(lock, holders, token, tag, lease, now)
  redis.call('ZADD', holders, now + lease, token)
  if redis.call('PTTL', lock) < lease then
    redis.call('SET', lock, '*' .. tag, 'PX', lease)
  end
  -- Checked apart from the marker's: the set may be new (its last holders were purged) under an older marker.
  if redis.call('PTTL', holders) < lease then
    redis.call('PEXPIRE', holders, lease)
  end
end
-- The holders ZSET keeps the longest expiry it was given: it is purged by score whenever it is read.
local function trim_marker(lock, holders, now)
  redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
  local last = redis.call('ZRANGE', holders, -1, -1, 'WITHSCORES')
  if not last[1] then
    redis.call('DEL', lock, holders)
    return
  end
  redis.call('PEXPIRE', lock, tonumber(last[2]) - now)
end
`;

/**
 * Shared Lua: grants a key's free share to the run of shared waiters at the head of its queue that fit: every
 * reader up to the first writer, or permits up to the semaphore's limit. Each gets its own fencing token and a
 * lease capped at the end of its place, and is told by a hand-off message. Needs CLOCK, FENCE, QUEUE, MEMBER, SHARED.
 */
const GRANT_SHARED = `
local function grant_shared(lock, fence, queue, deadlines, holders, retention, now)
  local held = redis.call('GET', lock)
  local count = 0
  if held then
    if string.sub(held, 1, 1) ~= '*' then
      return
    end
    count = live_holders(holders, now)
  end
  local members = redis.call('ZRANGE', queue, 0, 99)
  for i = 1, #members do
    local token, ttl, tag = parse_member(members[i])
    if not tag or (held and held ~= '*' .. tag) or count >= capacity(tag) then
      return
    end
    held = '*' .. tag
    local lease = math.min(ttl, tonumber(redis.call('ZSCORE', deadlines, members[i])) - now)
    hold_shared(lock, holders, token, tag, lease, now)
    dequeue(queue, deadlines, members[i])
    local fencing = issue_fence(fence, retention, 1)
    publish(lock, '${GRANTED} ' .. token .. ' ' .. format(fencing) .. ' ' .. format(lease))
    count = count + 1
  end
end
`;

/**
 * Shared Lua: what a release (or a waiter leaving) announces once the lock is free, or a shared hold left room.
 * With nobody queued: anyone may try. A shared head gets the room (see GRANT_SHARED). An exclusive head waits
 * while shared holders remain, and the waiters are told when the last of their leases ends; once the lock is free
 * the head gets it: handed over at once (a new fencing token, its lease capped at the end of its place) when it has
 * waited for the starvation bound or longer, when the bound is 0 (strict FIFO), or when the releaser yields its
 * turn; else it is only woken, and a running caller may take the free lock first. Needs CLOCK, FENCE, QUEUE,
 * MEMBER, SHARED, GRANT_SHARED and a \`publish(channel, message)\`.
 */
const ANNOUNCE = `
local function announce(lock, fence, queue, deadlines, holders, retention, starvation, yield_turn)
  if redis.call('EXISTS', queue) == 0 then
    publish(lock, '${ANYONE}')
    return
  end
  local now, now_us = clock()
  local head, since = queue_head(queue, deadlines, now)
  if not head then
    publish(lock, '${ANYONE}')
    return
  end
  local token, ttl, tag = parse_member(head)
  if tag then
    grant_shared(lock, fence, queue, deadlines, holders, retention, now)
    return
  end
  local blocked_for = redis.call('PTTL', lock)
  if blocked_for > 0 then
    -- Shared holders are still in (one may be kept for a minimum hold, which ends without a message): tell the
    -- waiters when the last of their leases ends, or they would sleep until the lease they saw when refused.
    publish(lock, '${KEPT} ' .. blocked_for)
    return
  end
  local left = tonumber(redis.call('ZSCORE', deadlines, head)) - now
  if starvation > 0 and not yield_turn and now_us - since < starvation * 1000 then
    publish(lock, '${WOKEN} ' .. token .. ' ' .. format(math.min(left, starvation)))
    return
  end
  -- The lease ends with the waiter's place at the latest: a waiter that died holds the lock no longer.
  local lease = math.min(ttl, left)
  local fencing = issue_fence(fence, retention, ${FENCE_BLOCK})
  redis.call('SET', lock, token, 'PX', lease)
  dequeue(queue, deadlines, head)
  publish(lock, '${GRANTED} ' .. token .. ' ' .. format(fencing) .. ' ' .. format(lease))
end
`;

/** Everything \`announce\` needs, but the clock, the fence and \`publish\` (which the fast paths define first). */
export const ANNOUNCING = `${QUEUE}${MEMBER}${SHARED}${GRANT_SHARED}${ANNOUNCE}`;

import { createHash } from 'node:crypto';

/** A Lua script with its SHA1, run with EVALSHA and sent whole only when Redis does not know it yet. */
export interface LockScript {
  readonly source: string;
  readonly sha: string;
  /** Running it late, after its caller gave up on it, does no harm (a token-checked clean-up). */
  readonly idempotent: boolean;
}

function script(source: string, idempotent = false): LockScript {
  return { source, sha: createHash('sha1').update(source).digest('hex'), idempotent };
}

/**
 * Release messages, published on the lock key's channel: `*` when nobody is queued (any waiter may try), or
 * `G <token> <fencing token> <lease ms>` when the lock was handed to the head of the queue.
 */
export const ANYONE = '*';

/** First word of a hand-off message: `G <token> <fencing token> <lease ms>`. */
export const GRANTED = 'G';

/** First word of a kept release (a minimum hold): `K <ms>`, the key is free after that many ms. */
export const KEPT = 'K';

/** Shared Lua: the server clock in ms and us (TIME is only asked for where it is needed). */
const CLOCK = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/**
 * Shared Lua: the next fencing token of a key, `max(last token + 1, server clock in us)`. The counter alone would
 * be enough on one server; the clock keeps tokens growing where the counter is gone or behind: evicted, Redis
 * restarted empty, or a replica promoted before it received the last increments (as long as the new master's
 * clock is not behind the old one's by more than the failover took). The counter outlives the lock by `retention`.
 */
const FENCE = `
local function take_fence(fence_key, at_least)
  local _, now_us = clock()
  return math.max(tonumber(redis.call('GET', fence_key) or '0') + 1, now_us, at_least or 0)
end
local function store_fence(fence_key, fence, retention)
  local text = string.format('%d', fence)
  redis.call('SET', fence_key, text, 'PX', retention)
  return text
end
`;

/** Shared Lua: release messages on classic pub/sub (every node of a Cluster forwards them to every other). */
const PUBLISH = `
local function publish(channel, message)
  redis.call('PUBLISH', channel, message)
end
`;

/**
 * Shared Lua: release messages on sharded pub/sub (Redis 7), which keeps them on the shard that owns the lock's
 * slot; on an older server, where SPUBLISH is unknown, on classic pub/sub.
 */
const SHARDED_PUBLISH = `
local function publish(channel, message)
  local sent = redis.pcall('SPUBLISH', channel, message)
  if type(sent) == 'table' and sent.err then
    redis.call('PUBLISH', channel, message)
  end
end
`;

/**
 * Shared Lua: the waiter queue of one key (a ZSET of '<token>|<ttl>' by arrival, and a ZSET of the same members
 * by deadline), from which waiters whose deadline passed are dropped before anyone looks at it.
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
`;

/**
 * Shared Lua: the release announcement, which hands the lock to the head of the queue (or tells anyone it is
 * free). Needs CLOCK, FENCE, QUEUE and a `publish(channel, message)`.
 */
const ANNOUNCE = `
local function announce(lock, fence_key, queue, deadlines, retention)
  local head
  local now
  if redis.call('EXISTS', queue) == 1 then
    now = clock()
    head = queue_head(queue, deadlines, now)
  end
  if not head then
    publish(lock, '${ANYONE}')
    return
  end
  local sep = string.find(head, '|', 1, true)
  local token = string.sub(head, 1, sep - 1)
  -- The lease ends at the waiter's own deadline at the latest: a waiter that died holds the lock no longer.
  local lease = math.min(tonumber(string.sub(head, sep + 1)), tonumber(redis.call('ZSCORE', deadlines, head)) - now)
  local fence = store_fence(fence_key, take_fence(fence_key), retention)
  redis.call('SET', lock, token, 'PX', lease)
  redis.call('ZREM', queue, head)
  redis.call('ZREM', deadlines, head)
  publish(lock, '${GRANTED} ' .. token .. ' ' .. fence .. ' ' .. string.format('%d', lease))
end
`;

/**
 * Single key, fair. KEYS: lock, fence, queue, deadlines. ARGV: token, ttl ms, fence retention ms, wait ms.
 * Returns {1, fencingToken} or {0, ms after which to re-check, the key's last fencing token}.
 */
export const FAIR_ACQUIRE_SCRIPT = script(`${CLOCK}${FENCE}${QUEUE}
-- Guarantees: the lock goes to the token only if it is free and no live waiter queued before it (FIFO), or if a release already handed it to the token (then its lease is renewed to ttl); a waiter that may wait joins the queue with its deadline.
local member = ARGV[1] .. '|' .. ARGV[2]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('GET', KEYS[2]) or store_fence(KEYS[2], take_fence(KEYS[2]), ARGV[3])}
end
local now, head
if not holder and redis.call('EXISTS', KEYS[3]) == 1 then
  now = clock()
  head = queue_head(KEYS[3], KEYS[4], now)
end
if not holder and (not head or head == member) then
  local fence = store_fence(KEYS[2], take_fence(KEYS[2]), ARGV[3])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if head then
    redis.call('ZREM', KEYS[3], member)
    redis.call('ZREM', KEYS[4], member)
  end
  return {1, fence}
end
local wait = tonumber(ARGV[4])
if wait > 0 then
  local now_us
  now, now_us = clock()
  redis.call('ZADD', KEYS[3], 'NX', now_us, member)
  redis.call('ZADD', KEYS[4], now + wait, member)
  if redis.call('PTTL', KEYS[3]) < wait then
    redis.call('PEXPIRE', KEYS[3], wait)
    redis.call('PEXPIRE', KEYS[4], wait)
  end
end
local last = redis.call('GET', KEYS[2]) or '0'
if not holder then
  return {0, math.max(1, math.min(tonumber(redis.call('ZSCORE', KEYS[4], head)) - now, tonumber(ARGV[2]))), last}
end
return {0, redis.call('PTTL', KEYS[1]), last}
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
  fence = take_fence(KEYS[i], fence)
end
local text
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  text = store_fence(KEYS[n + i], fence, ARGV[3])
end
return {1, text}
`);

/** The scripts that announce releases, built on one way of publishing. */
export interface AnnouncingScripts {
  /**
   * KEYS: per key: lock, fence, queue, deadlines. ARGV: token, fence retention ms, ms to keep the keys (0: delete).
   * Returns how many keys still held the token.
   */
  readonly release: LockScript;
  /** KEYS: per key: lock, fence, queue, deadlines. ARGV: token, ttl ms it queued with, fence retention ms. */
  readonly leave: LockScript;
}

function announcingScripts(publish: string): AnnouncingScripts {
  const shared = `${CLOCK}${FENCE}${QUEUE}${publish}${ANNOUNCE}`;
  return {
    release: script(
      `${shared}
-- Guarantees: touches only keys that still hold this token (never another holder's): deletes each and, in the same atomic step, hands it to the head of its queue (or tells anyone it is free); or, for a minimum hold, lets it expire after the given ms and tells waiters when.
local released = 0
local keep = tonumber(ARGV[3] or '0')
for i = 1, #KEYS, 4 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if keep > 0 then
      redis.call('PEXPIRE', KEYS[i], keep)
      publish(KEYS[i], '${KEPT} ' .. ARGV[3])
    else
      redis.call('DEL', KEYS[i])
      announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[2])
    end
    released = released + 1
  end
end
return released
`,
      true,
    ),
    leave: script(
      `${shared}
-- Guarantees: removes the waiter from each key's queue, gives back a key handed to it meanwhile, and hands a free key to the next head, so giving up never stalls the queue.
local member = ARGV[1] .. '|' .. ARGV[2]
for i = 1, #KEYS, 4 do
  redis.call('ZREM', KEYS[i + 2], member)
  redis.call('ZREM', KEYS[i + 3], member)
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then
    redis.call('DEL', KEYS[i])
  end
  if not holder or holder == ARGV[1] then
    announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[3])
  end
end
return 1
`,
      true,
    ),
  };
}

/** Release and leave for one Redis, or a Cluster without sharded pub/sub: classic PUBLISH. */
export const CLASSIC_ANNOUNCING_SCRIPTS = announcingScripts(PUBLISH);

/** Release and leave for a Cluster: SPUBLISH on the lock's shard (PUBLISH on servers before Redis 7). */
export const SHARDED_ANNOUNCING_SCRIPTS = announcingScripts(SHARDED_PUBLISH);

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

/** KEYS: fencing counters. ARGV: fencing token, fence retention ms. */
export const RAISE_FENCE_SCRIPT = script(`
-- Guarantees: a fencing counter never goes down: each becomes the larger of its value and the given token.
for i = 1, #KEYS do
  local seen = tonumber(redis.call('GET', KEYS[i]) or '0')
  if seen < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  end
end
return 1
`);

import { createHash } from 'node:crypto';
import { FENCE_BLOCK } from '../../lock.constants.js';

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
 * Shared Lua: fencing tokens. A single-key grant takes a block of ${FENCE_BLOCK} tokens starting at
 * `max(last + 1, server clock in us)` and stores the block's end in the counter, so the holder's process can pass
 * the lock on to its own next callers with the block's next tokens, and every later grant is still higher. The
 * clock keeps tokens growing where the counter is gone or behind (evicted, Redis restarted empty, a replica
 * promoted before it received the last writes), as long as the clock does not go back by more than that took.
 * The counter outlives its last renewal by `retention`. One SET ... GET on the common path: reading the old value
 * and writing the new one is one command, and the old value only matters when it is ahead of the clock.
 */
const FENCE = `
local function format(n)
  return string.format('%d', n)
end
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
 * Shared Lua: the waiter queue of one key (a ZSET of '<token>|<ttl>' by arrival in us, and a ZSET of the same
 * members by deadline in ms), from which waiters whose deadline passed are dropped before anyone looks at it.
 * Returns the head and when it arrived (us).
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
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  return head[1], tonumber(head[2])
end
`;

/**
 * Shared Lua: what a release (or a waiter leaving) announces once the lock is free. With nobody queued: anyone
 * may try. Otherwise the head of the queue gets it: handed over at once (a new fencing token, its lease capped
 * at its own deadline) when it has waited for the starvation bound or longer, when the bound is 0 (strict FIFO),
 * or when the releaser yields its turn; else it is only woken, and a running caller may take the free lock first.
 * Needs CLOCK, FENCE, QUEUE and a \`publish(channel, message)\`.
 */
const ANNOUNCE = `
local function announce(lock, fence_key, queue, deadlines, retention, starvation, yield)
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
  local sep = string.find(head, '|', 1, true)
  local token = string.sub(head, 1, sep - 1)
  local left = tonumber(redis.call('ZSCORE', deadlines, head)) - now
  if starvation > 0 and not yield and now_us - since < starvation * 1000 then
    publish(lock, '${WOKEN} ' .. token .. ' ' .. format(math.min(left, starvation)))
    return
  end
  -- The lease ends at the waiter's own deadline at the latest: a waiter that died holds the lock no longer.
  local lease = math.min(tonumber(string.sub(head, sep + 1)), left)
  local fence = issue_fence(fence_key, retention, ${FENCE_BLOCK})
  redis.call('SET', lock, token, 'PX', lease)
  redis.call('ZREM', queue, head)
  redis.call('ZREM', deadlines, head)
  publish(lock, '${GRANTED} ' .. token .. ' ' .. format(fence) .. ' ' .. format(lease))
end
`;

/**
 * Single key. KEYS: lock, fence, queue, deadlines. ARGV: token, ttl ms, fence retention ms, wait ms, starvation
 * bound ms (0: strict FIFO). Returns {1, fencingToken} (the first of a block of ${FENCE_BLOCK}) or {0, ms after which
 * to re-check, the key's last fencing token}.
 */
export const FAIR_ACQUIRE_SCRIPT = script(`${CLOCK}${FENCE}${QUEUE}
-- Guarantees: the lock goes to the token only if it is free and either nobody is queued, the token heads the queue, or the head has waited less than the starvation bound (a bounded barge); or if a release already handed it to the token (its lease is then renewed to ttl). A waiter that may wait joins the queue with its deadline.
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, issue_fence(KEYS[2], ARGV[3], ${FENCE_BLOCK})}
end
local member = ARGV[1] .. '|' .. ARGV[2]
local holder = redis.call('GET', KEYS[1])
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
 * fence retention ms. Returns {1, fencingToken} or {0, pttl of the blocking key}. Like every grant, it reserves a
 * block of ${FENCE_BLOCK} tokens, so a key's counter always holds the end of its last grant's block.
 */
export const ACQUIRE_SCRIPT = script(`${CLOCK}
-- Guarantees: all keys are taken for the token or none is, with one fencing token above every earlier one of each key.
local n = #KEYS / 2
for i = 1, n do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl ~= -2 then
    return {0, pttl}
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

/** The scripts that announce releases, built on one way of publishing. */
export interface AnnouncingScripts {
  /**
   * KEYS: per key: lock, fence, queue, deadlines. ARGV: token, fence retention ms, ms to keep the keys (0: delete),
   * starvation bound ms, 1 to yield (hand a queued key to its head at once). Returns how many keys still held the
   * token.
   */
  readonly release: LockScript;
  /** KEYS: per key: lock, fence, queue, deadlines. ARGV: token, ttl ms it queued with, fence retention ms, starvation bound ms. */
  readonly leave: LockScript;
}

function announcingScripts(publish: string): AnnouncingScripts {
  const shared = `${CLOCK}${FENCE}${QUEUE}${publish}${ANNOUNCE}`;
  return {
    release: script(
      `${shared}
-- Guarantees: touches only keys that still hold this token (never another holder's): deletes each and, in the same atomic step, announces it (hand-off to a starved head, a wake-up, or free for anyone); or, for a minimum hold, lets it expire after the given ms and tells waiters when.
local released = 0
local keep = tonumber(ARGV[3])
for i = 1, #KEYS, 4 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if keep > 0 then
      redis.call('PEXPIRE', KEYS[i], keep)
      publish(KEYS[i], '${KEPT} ' .. ARGV[3])
    else
      redis.call('DEL', KEYS[i])
      announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[2], tonumber(ARGV[4]), ARGV[5] == '1')
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
-- Guarantees: removes the waiter from each key's queue, gives back a key handed to it meanwhile, and announces a free key to the next head, so giving up never stalls the queue.
local member = ARGV[1] .. '|' .. ARGV[2]
for i = 1, #KEYS, 4 do
  redis.call('ZREM', KEYS[i + 2], member)
  redis.call('ZREM', KEYS[i + 3], member)
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then
    redis.call('DEL', KEYS[i])
  end
  if not holder or holder == ARGV[1] then
    announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[3], tonumber(ARGV[4]), false)
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

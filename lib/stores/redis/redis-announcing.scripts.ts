import { KEPT, announcingLua, PUBLISH, SHARDED_PUBLISH, script, type LockScript } from './redis-lua.snippets.js';

/**
 * The scripts that announce releases, built on one way of publishing. KEYS of each: per key, its
 * {@link RedisKeySchema.keySet} (lock, fence, queue, deadlines, shared holders).
 */
export interface AnnouncingScripts {
  /**
   * An exclusive hold. ARGV: token, fence retention ms, ms to keep the keys (0: delete), starvation bound ms, 1 to
   * yield (hand a queued key to its head at once). Returns how many keys still held the token.
   */
  readonly release: LockScript;
  /** A shared hold. ARGV: token, fence retention ms, ms to keep the keys (0: free now), its share's tag. Same return. */
  readonly releaseShared: LockScript;
  /** ARGV: token, ttl ms it queued with, fence retention ms, starvation bound ms, its share's tag ('x': exclusive). */
  readonly leave: LockScript;
}

function announcingScripts(publish: string): AnnouncingScripts {
  const shared = announcingLua(publish);
  return {
    release: script(
      `${shared}
-- Guarantees: touches only keys that still hold this token (never another holder's): deletes each and, in the same atomic step, announces it (hand-off to a starved head or a run of readers, a wake-up, or free for anyone); or, for a minimum hold, lets it expire after the given ms and tells waiters when.
local released = 0
local keep = tonumber(ARGV[3])
for i = 1, #KEYS, 5 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if keep > 0 then
      redis.call('PEXPIRE', KEYS[i], keep)
      publish(KEYS[i], '${KEPT} ' .. ARGV[3])
    else
      redis.call('DEL', KEYS[i])
      announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], KEYS[i + 4], ARGV[2], tonumber(ARGV[4]), ARGV[5] == '1')
    end
    released = released + 1
  end
end
return released
`,
      true,
    ),
    releaseShared: script(
      `${shared}
-- Guarantees: removes only this token's shared hold, and only while its lease runs; the room it leaves goes to the waiters at the head in the same atomic step (the last holder out frees the key for a writer); for a minimum hold, the hold stays until the given ms have passed.
local released = 0
local keep = tonumber(ARGV[3])
local now = clock()
for i = 1, #KEYS, 5 do
  local lease_end = redis.call('ZSCORE', KEYS[i + 4], ARGV[1])
  if redis.call('GET', KEYS[i]) == '*' .. ARGV[4] and lease_end and tonumber(lease_end) > now then
    if keep > 0 then
      hold_shared(KEYS[i], KEYS[i + 4], ARGV[1], ARGV[4], keep, now)
      publish(KEYS[i], '${KEPT} ' .. ARGV[3])
    else
      redis.call('ZREM', KEYS[i + 4], ARGV[1])
      trim_marker(KEYS[i], KEYS[i + 4], now)
      announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], KEYS[i + 4], ARGV[2], 0, false)
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
-- Guarantees: removes the waiter from each key's queue, gives back a key (or a shared hold) handed to it meanwhile, and announces the room to the next waiters, so giving up never stalls the queue.
local member = ARGV[1] .. '|' .. ARGV[2]
if ARGV[5] ~= 'x' then
  member = member .. '|' .. ARGV[5]
end
local now = clock()
for i = 1, #KEYS, 5 do
  redis.call('ZREM', KEYS[i + 2], member)
  redis.call('ZREM', KEYS[i + 3], member)
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then
    redis.call('DEL', KEYS[i])
  elseif holder and redis.call('ZREM', KEYS[i + 4], ARGV[1]) == 1 then
    trim_marker(KEYS[i], KEYS[i + 4], now)
  end
  if not holder or holder == ARGV[1] or string.sub(holder, 1, 1) == '*' then
    announce(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], KEYS[i + 4], ARGV[3], tonumber(ARGV[4]), false)
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

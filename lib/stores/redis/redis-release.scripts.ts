import { ANNOUNCING, ANYONE, CLOCK, FENCE, KEPT, PUBLISH, SHARDED_PUBLISH } from './redis-lua.snippets.js';
import { defineScript, type LockScript } from './redis-script.js';

/** The keys of one lock key (see `RedisKeySchema.keySet`). */
const KEY_SET = ['lock', 'fence', 'queue', 'deadlines', 'holders'] as const;
type KeyName = (typeof KEY_SET)[number];

/** The release scripts, built on one way of publishing. Each returns how many keys still held the token. */
export interface ReleaseScripts {
  /** One key held exclusively: the common case, with a fast path when nobody is queued. */
  readonly release: LockScript<KeyName, 'token' | 'retention' | 'keep' | 'starvation' | 'yield_turn'>;
  /** Several keys held exclusively. */
  readonly releaseMany: LockScript<KeyName, 'token' | 'retention' | 'keep' | 'starvation' | 'yield_turn'>;
  /** A shared hold (a read lock, a semaphore permit) of one key or several. */
  readonly releaseShared: LockScript<KeyName, 'token' | 'retention' | 'keep' | 'tag'>;
}

const EXCLUSIVE_ARGS = { token: 'string', retention: 'number', keep: 'number', starvation: 'number', yield_turn: 'number' } as const;

/** Deletes one key this token holds, or keeps it for a minimum hold, and announces it (see ANNOUNCE). */
const RELEASE_ONE = `
local function release_one(lock, fence, queue, deadlines, holders)
  if redis.call('GET', lock) ~= token then
    return 0
  end
  if keep > 0 then
    redis.call('PEXPIRE', lock, keep)
    publish(lock, '${KEPT} ' .. keep)
  else
    redis.call('DEL', lock)
    announce(lock, fence, queue, deadlines, holders, retention, starvation, yield_turn == 1)
  end
  return 1
end
`;

const GUARANTEES =
  "touches only keys that still hold this token (never another holder's): deletes each and, in the same atomic step, announces it (hand-off to a starved head or a run of readers, a wake-up, or free for anyone); or, for a minimum hold, lets it expire after the given ms and tells waiters when.";

function releaseScripts(publish: string): ReleaseScripts {
  return {
    release: defineScript({
      name: 'Release one key held exclusively',
      guarantees: GUARANTEES,
      keys: KEY_SET,
      args: EXCLUSIVE_ARGS,
      fastLua: [publish],
      fast: `
if keep == 0 and redis.call('EXISTS', queue) == 0 then
  if redis.call('GET', lock) ~= token then
    return 0
  end
  redis.call('DEL', lock)
  publish(lock, '${ANYONE}')
  return 1
end`,
      lua: [CLOCK, FENCE, ANNOUNCING, RELEASE_ONE],
      body: `return release_one(lock, fence, queue, deadlines, holders)`,
      idempotent: true,
    }),
    releaseMany: defineScript({
      name: 'Release several keys held exclusively',
      guarantees: GUARANTEES,
      keys: KEY_SET,
      repeated: true,
      args: EXCLUSIVE_ARGS,
      lua: [publish, CLOCK, FENCE, ANNOUNCING, RELEASE_ONE],
      body: `
local released = 0
for lock, fence, queue, deadlines, holders in key_sets() do
  released = released + release_one(lock, fence, queue, deadlines, holders)
end
return released`,
      idempotent: true,
    }),
    releaseShared: defineScript({
      name: 'Release a read lock or a semaphore permit',
      guarantees:
        "removes only this token's shared hold, and only while its lease runs; the room it leaves goes to the waiters at the head in the same atomic step (the last holder out frees the key for a writer); for a minimum hold, the hold stays until the given ms have passed.",
      keys: KEY_SET,
      repeated: true,
      args: { token: 'string', retention: 'number', keep: 'number', tag: 'string' },
      lua: [publish, CLOCK, FENCE, ANNOUNCING],
      body: `
local released = 0
local now = clock()
for lock, fence, queue, deadlines, holders in key_sets() do
  local lease_end = redis.call('ZSCORE', holders, token)
  if redis.call('GET', lock) == '*' .. tag and lease_end and tonumber(lease_end) > now then
    if keep > 0 then
      hold_shared(lock, holders, token, tag, keep, now)
      publish(lock, '${KEPT} ' .. keep)
    else
      redis.call('ZREM', holders, token)
      trim_marker(lock, holders, now)
      announce(lock, fence, queue, deadlines, holders, retention, 0, false)
    end
    released = released + 1
  end
end
return released`,
      idempotent: true,
    }),
  };
}

/** Releases for one Redis, or a Cluster without sharded pub/sub: classic PUBLISH. */
export const CLASSIC_RELEASE_SCRIPTS = releaseScripts(PUBLISH);

/** Releases for a Cluster: SPUBLISH on the lock's shard (PUBLISH on servers before Redis 7). */
export const SHARDED_RELEASE_SCRIPTS = releaseScripts(SHARDED_PUBLISH);

import { ANNOUNCING, CLOCK, FENCE, PUBLISH, SHARDED_PUBLISH } from './redis-lua.snippets.js';
import { defineScript, type LockScript } from './redis-script.js';

/** A waiter's way out of the queues of its keys. */
export type LeaveScript = LockScript<
  'lock' | 'fence' | 'queue' | 'deadlines' | 'holders',
  'token' | 'ttl' | 'retention' | 'starvation' | 'tag'
>;

function leaveScript(publish: string): LeaveScript {
  return defineScript({
    name: 'Leave the queue',
    guarantees:
      'removes the waiter from each key’s queue, gives back a key (or a shared hold) handed to it meanwhile, and announces the room to the next waiters, so giving up never stalls the queue.',
    keys: ['lock', 'fence', 'queue', 'deadlines', 'holders'],
    repeated: true,
    // tag: the share the waiter asked for ('x': exclusive); ttl as text, as in the queue member.
    args: { token: 'string', ttl: 'string', retention: 'number', starvation: 'number', tag: 'string' },
    lua: [publish, CLOCK, FENCE, ANNOUNCING],
    body: `
local member = token .. '|' .. ttl
if tag ~= 'x' then
  member = member .. '|' .. tag
end
local now = clock()
for lock, fence, queue, deadlines, holders in key_sets() do
  dequeue(queue, deadlines, member)
  local holder = redis.call('GET', lock)
  if holder == token then
    redis.call('DEL', lock)
  elseif holder and redis.call('ZREM', holders, token) == 1 then
    trim_marker(lock, holders, now)
  end
  if not holder or holder == token or string.sub(holder, 1, 1) == '*' then
    announce(lock, fence, queue, deadlines, holders, retention, starvation, false)
  end
end
return 1`,
    idempotent: true,
  });
}

/** Leave for one Redis, or a Cluster without sharded pub/sub: classic PUBLISH. */
export const CLASSIC_LEAVE_SCRIPT = leaveScript(PUBLISH);

/** Leave for a Cluster: SPUBLISH on the lock's shard (PUBLISH on servers before Redis 7). */
export const SHARDED_LEAVE_SCRIPT = leaveScript(SHARDED_PUBLISH);

// The stress test's referee: Lua scripts on a Redis of its own (not the one the locks live in), called by every
// worker inside its critical sections. It records what a lock must prevent; the runner judges it at the end.
import { Redis } from 'ioredis';

/** Where the referee keeps its records: every key is under `prefix`. */
export interface CheckerKeys {
  readonly prefix: string;
}

/** The keys stress workers take shared holds of: semaphores of limit 2, and a read-write lock. */
export const SHARED_KEYS = ['s0', 's1', 'd0'];

// Guarantees (referee): an entry that finds a holder it may not share the key with records the overlap (for a
// writer or a mutex: anyone; for a reader: a writer); a permit holder that finds `limit` or more inside records the
// crowd; an exclusive entry whose fencing token is not above every earlier entry's on that key is recorded as late
// (shared holders are granted together, and may enter in another order than their tokens).
// KEYS: overlaps list, late list, crowds list, then per lock key: active holders hash, highest entered token.
// ARGV: holder id, fencing token, limit, mode ('r' or 'w').
const ENTER = `
local n = (#KEYS - 3) / 2
local fence = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local exclusive = limit == 1 and ARGV[4] == 'w'
for i = 1, n do
  local active = KEYS[3 + i]
  local others = redis.call('HGETALL', active)
  local crowd = {}
  for j = 1, #others, 2 do
    local other_fence, other_mode = string.match(others[j + 1], '^(%d+) (%a)$')
    if limit == 1 and (exclusive or other_mode == 'w') then
      redis.call('RPUSH', KEYS[1], active .. ' ' .. others[j] .. ' ' .. other_fence .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
    end
    table.insert(crowd, others[j] .. ' ' .. other_fence)
  end
  if limit > 1 and #crowd >= limit then
    redis.call('RPUSH', KEYS[3], active .. ' ' .. limit .. ' ' .. table.concat(crowd, ' ') .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
  end
  local highest = tonumber(redis.call('GET', KEYS[3 + n + i]) or '0')
  if fence > highest then
    redis.call('SET', KEYS[3 + n + i], ARGV[2])
  elseif exclusive then
    redis.call('RPUSH', KEYS[2], active .. ' ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. highest)
  end
  redis.call('HSET', active, ARGV[1], ARGV[2] .. ' ' .. ARGV[4])
end
return 1
`;

// Guarantees (referee): a fenced resource; a write with a token below the highest it accepted is refused.
// KEYS: accepted writes counter, highest written token, refused writes counter. ARGV: fencing token.
const WRITE = `
local fence = tonumber(ARGV[1])
if fence < tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('INCR', KEYS[3])
  return 0
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[1])
return 1
`;

// KEYS: active holders hashes. ARGV: holder id.
const EXIT = `
for i = 1, #KEYS do
  redis.call('HDEL', KEYS[i], ARGV[1])
end
return 1
`;

/** An overlap of two holders inside one key's critical section. */
export interface Overlap {
  key: string;
  inside: { holder: string; fence: number };
  entering: { holder: string; fence: number };
}

/** More permit holders inside one key's critical section than its limit. */
export interface Crowd {
  key: string;
  limit: number;
  holders: Array<{ holder: string; fence: number }>;
}

/** An entry whose fencing token was not above the highest entered before on that key. */
export interface LateEntry {
  key: string;
  holder: string;
  fence: number;
  highest: number;
}

/** A worker's connection to the referee. */
export class Checker {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * A holder enters the critical section of `keys` with `fence`.
   * @param keys the lock keys
   * @param fence its fencing token
   * @param holder its id
   * @param limit the semaphore's limit (1: a mutex or a read-write lock)
   * @param mode a reader or a writer
   */
  async enter(keys: readonly string[], fence: number, holder: string, limit = 1, mode: 'read' | 'write' = 'write'): Promise<void> {
    const redisKeys = [
      this.key('overlaps'),
      this.key('late'),
      this.key('crowds'),
      ...keys.map((key) => this.key(`active:${key}`)),
      ...keys.map((key) => this.key(`entered:${key}`)),
    ];
    await this.redis.eval(ENTER, redisKeys.length, ...redisKeys, holder, fence, limit, mode === 'read' ? 'r' : 'w');
  }

  /**
   * A fenced write to the resource of `key`.
   * @returns whether the resource accepted it
   */
  async write(key: string, fence: number): Promise<boolean> {
    return (await this.redis.eval(WRITE, 3, this.key(`writes:${key}`), this.key(`written:${key}`), this.key('refused'), fence)) === 1;
  }

  /** The holder leaves the critical section of `keys`. */
  async exit(keys: readonly string[], holder: string): Promise<void> {
    const redisKeys = keys.map((key) => this.key(`active:${key}`));
    await this.redis.eval(EXIT, redisKeys.length, ...redisKeys, holder);
  }

  /** Forgets the holders of a killed worker that were inside a critical section (they count as lost). */
  async forget(keys: readonly string[], worker: string): Promise<void> {
    for (const key of keys) {
      const active = this.key(`active:${key}`);
      const holders = (await this.redis.hkeys(active)).filter((holder) => holder.startsWith(`${worker}:`));
      if (holders.length > 0) {
        await this.redis.hdel(active, ...holders);
      }
    }
  }

  /** What the referee saw. */
  async verdict(
    keys: readonly string[],
  ): Promise<{ overlaps: Overlap[]; late: LateEntry[]; crowds: Crowd[]; accepted: number; refused: number }> {
    const overlaps = (await this.redis.lrange(this.key('overlaps'), 0, -1)).map((line): Overlap => {
      const [key, inside, insideFence, entering, enteringFence] = line.split(' ');
      return {
        key: key.slice(this.key('active:').length),
        inside: { holder: inside, fence: Number(insideFence) },
        entering: { holder: entering, fence: Number(enteringFence) },
      };
    });
    const late = (await this.redis.lrange(this.key('late'), 0, -1)).map((line): LateEntry => {
      const [key, holder, fence, highest] = line.split(' ');
      return { key: key.slice(this.key('active:').length), holder, fence: Number(fence), highest: Number(highest) };
    });
    const crowds = (await this.redis.lrange(this.key('crowds'), 0, -1)).map((line): Crowd => {
      const [key, limit, ...rest] = line.split(' ');
      const holders = [];
      for (let i = 0; i < rest.length; i += 2) {
        holders.push({ holder: rest[i], fence: Number(rest[i + 1]) });
      }
      return { key: key.slice(this.key('active:').length), limit: Number(limit), holders };
    });
    let accepted = 0;
    for (const key of keys) {
      accepted += Number((await this.redis.get(this.key(`writes:${key}`))) ?? '0');
    }
    return { overlaps, late, crowds, accepted, refused: Number((await this.redis.get(this.key('refused'))) ?? '0') };
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.redis.quit();
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

// The stress test's referee: Lua scripts on a Redis of its own (not the one the locks live in), called by every
// worker inside its critical sections. It records what a lock must prevent; the runner judges it at the end.
import { Redis } from 'ioredis';

/** Where the referee keeps its records: every key is under `prefix`. */
export interface CheckerKeys {
  readonly prefix: string;
}

// Guarantees (referee): every entry that finds another holder inside records the overlap; an entry whose fencing
// token is not above every earlier entry's on that key is recorded as late.
// KEYS: overlaps list, late list, then per lock key: active holders hash, highest entered token.
// ARGV: holder id, fencing token.
const ENTER = `
local n = (#KEYS - 2) / 2
local fence = tonumber(ARGV[2])
for i = 1, n do
  local active = KEYS[2 + i]
  local others = redis.call('HGETALL', active)
  for j = 1, #others, 2 do
    redis.call('RPUSH', KEYS[1], active .. ' ' .. others[j] .. ' ' .. others[j + 1] .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
  end
  local highest = tonumber(redis.call('GET', KEYS[2 + n + i]) or '0')
  if fence <= highest then
    redis.call('RPUSH', KEYS[2], active .. ' ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. highest)
  else
    redis.call('SET', KEYS[2 + n + i], ARGV[2])
  end
  redis.call('HSET', active, ARGV[1], ARGV[2])
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
   */
  async enter(keys: readonly string[], fence: number, holder: string): Promise<void> {
    const redisKeys = [
      this.key('overlaps'),
      this.key('late'),
      ...keys.map((key) => this.key(`active:${key}`)),
      ...keys.map((key) => this.key(`entered:${key}`)),
    ];
    await this.redis.eval(ENTER, redisKeys.length, ...redisKeys, holder, fence);
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
  async verdict(keys: readonly string[]): Promise<{ overlaps: Overlap[]; late: LateEntry[]; accepted: number; refused: number }> {
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
    let accepted = 0;
    for (const key of keys) {
      accepted += Number((await this.redis.get(this.key(`writes:${key}`))) ?? '0');
    }
    return { overlaps, late, accepted, refused: Number((await this.redis.get(this.key('refused'))) ?? '0') };
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.redis.quit();
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

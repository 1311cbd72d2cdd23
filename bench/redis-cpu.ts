// Redis CPU time, read from INFO commandstats: what a workload costs the server, whatever the client machine.
import type { Redis } from 'ioredis';

/**
 * Microseconds of command execution the server has spent so far, over every command (those run inside scripts
 * included, so a script's work counts once, as its calls' sum plus its own overhead under evalsha).
 * @param redis a client of the server (its own INFO calls are negligible)
 */
export async function redisCpuUsec(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_(\S+):calls=\d+,usec=(\d+)/gm)) {
    if (match[1] !== 'info') {
      total += Number(match[2]);
    }
  }
  return total;
}

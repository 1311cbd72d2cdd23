// Redis CPU time, read from INFO commandstats: what a workload costs the server, whatever the client machine.
import type { Redis } from 'ioredis';

/** Calls and microseconds of execution per command name (a subcommand under its command's name). */
export type CommandStats = Map<string, { calls: number; usec: number }>;

/**
 * The server's command statistics so far (INFO itself left out).
 * @param redis a client of the server
 */
export async function commandStats(redis: Redis): Promise<CommandStats> {
  const info = await redis.info('commandstats');
  const stats: CommandStats = new Map();
  for (const match of info.matchAll(/^cmdstat_([^|:\s]+)\S*:calls=(\d+),usec=(\d+)/gm)) {
    if (match[1] !== 'info') {
      const seen = stats.get(match[1]) ?? { calls: 0, usec: 0 };
      stats.set(match[1], { calls: seen.calls + Number(match[2]), usec: seen.usec + Number(match[3]) });
    }
  }
  return stats;
}

/**
 * Microseconds of Redis execution that the commands clients sent between two snapshots cost. A script's time
 * (EVALSHA's) includes the commands it calls, which commandstats also counts under their own names: those are left
 * out. Of each command name, only the share that clients sent counts (`sent` / calls), at its average cost.
 * @param before the stats before
 * @param after the stats after
 * @param sent the calls by name the measured clients sent in between
 */
export function topLevelUsec(before: CommandStats, after: CommandStats, sent: Record<string, number>): number {
  let total = 0;
  for (const [name, { calls, usec }] of after) {
    const was = before.get(name) ?? { calls: 0, usec: 0 };
    const ran = calls - was.calls;
    if (ran > 0) {
      total += ((usec - was.usec) * Math.min(ran, sent[name] ?? 0)) / ran;
    }
  }
  return total;
}

// Counts the Redis commands this process sends, by patching ioredis' sendCommand (subscriber connections included),
// in all and by name.
import { Redis } from 'ioredis';

let count = 0;
const byName = new Map<string, number>();
const excluded = new WeakSet<object>();
const original = Redis.prototype.sendCommand;

Redis.prototype.sendCommand = function countedSendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  if (!excluded.has(this)) {
    count += 1;
    const name = args[0].name.toLowerCase();
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  return original.apply(this, args);
};

/** Commands sent so far by every ioredis client of this process that is not excluded. */
export function commandsSent(): number {
  return count;
}

/** Commands sent so far by those clients, by command name (lower case). */
export function commandsSentByName(): Record<string, number> {
  return Object.fromEntries(byName);
}

/**
 * Calls by name sent between two snapshots.
 * @param before the earlier snapshot
 * @param after the later one
 */
export function commandsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([name, calls]) => [name, calls - (before[name] ?? 0)]));
}

/**
 * Leaves a client's commands out of the count (the benchmark's own bookkeeping).
 * @param client the client
 */
export function excludeFromCount(client: Redis): void {
  excluded.add(client);
}

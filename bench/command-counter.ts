// Counts the Redis commands this process sends, by patching ioredis' sendCommand (subscriber connections included).
import { Redis } from 'ioredis';

let count = 0;
const excluded = new WeakSet<object>();
const original = Redis.prototype.sendCommand;

Redis.prototype.sendCommand = function countedSendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  if (!excluded.has(this)) {
    count += 1;
  }
  return original.apply(this, args);
};

/** Commands sent so far by every ioredis client of this process that is not excluded. */
export function commandsSent(): number {
  return count;
}

/**
 * Leaves a client's commands out of the count (the benchmark's own bookkeeping).
 * @param client the client
 */
export function excludeFromCount(client: Redis): void {
  excluded.add(client);
}

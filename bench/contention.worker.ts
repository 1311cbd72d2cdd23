// One contender process of the contention scenarios: `callers` concurrent loops take one key, each doing a
// non-atomic GET + SET inside the lock; it reports its turns, waits, critical-section intervals and lock commands.
// With `limit`, each takes a permit and counts, in Redis, how many are inside at once (INCR, `workMs`, DECR). With
// `readShare`, that share of the turns only read (two GETs that must agree), as readers when `readLocks` is on,
// else under the mutex.
import { commandsBetween, commandsSent, commandsSentByName, excludeFromCount } from './command-counter';
import { Redis } from 'ioredis';
import { createContender, type Contender, type ContenderName } from './contenders';

export interface ContentionRun {
  contender: ContenderName;
  key: string;
  counterKey: string;
  duration: number;
  /** Concurrent callers in this process. */
  callers: number;
  /** Take permits of a semaphore of this limit. */
  limit?: number;
  /** The share of turns that only read (0..1). */
  readShare?: number;
  /** Readers take read locks (else the same mutex as writers). */
  readLocks?: boolean;
  /** ms of work (a pause) between the critical section's two round trips: a render, a remote call. @default 0 */
  workMs?: number;
}

export interface ContentionResult {
  turns: number;
  /** Turns that only read. */
  reads: number;
  waits: number[];
  /** Critical sections of writers (and of permits, and of readers under a mutex), to check for overlaps. */
  intervals: Array<[number, number]>;
  commands: number;
  /** The same, by command name. */
  sent: Record<string, number>;
  /** Permit holders that found more than `limit` inside; readers that saw a write happen while they read. */
  violations: number;
}

const url = process.argv[2];
const counter = new Redis(url);
excludeFromCount(counter);
const contenders = new Map<ContenderName, Contender>();

function now(): number {
  // CLOCK_MONOTONIC: one clock for every process on the machine, so intervals of different workers compare.
  return Number(process.hrtime.bigint()) / 1e6;
}

async function run(job: ContentionRun): Promise<ContentionResult> {
  const contender = contenders.get(job.contender) ?? (await createContender(job.contender, url));
  contenders.set(job.contender, contender);
  const result: ContentionResult = { turns: 0, reads: 0, waits: [], intervals: [], commands: 0, sent: {}, violations: 0 };
  const sentBefore = commandsSent();
  const byNameBefore = commandsSentByName();
  const end = now() + job.duration;
  const caller = async (): Promise<void> => {
    while (now() < end) {
      const asked = now();
      const reading = job.readShare !== undefined && Math.random() < job.readShare;
      let entered = 0;
      let left = 0;
      const shape = { limit: job.limit, mode: reading && job.readLocks ? ('read' as const) : undefined };
      await contender.run(
        job.key,
        async () => {
          entered = now();
          result.violations += await criticalSection(job, reading);
          left = now();
        },
        job.limit === undefined && shape.mode === undefined ? undefined : shape,
      );
      result.turns += 1;
      result.reads += reading ? 1 : 0;
      result.waits.push(entered - asked);
      if (!job.limit && !(reading && job.readLocks)) {
        result.intervals.push([entered, left]);
      }
    }
  };
  await Promise.all(Array.from({ length: job.callers }, caller));
  result.commands = commandsSent() - sentBefore;
  result.sent = commandsBetween(byNameBefore, commandsSentByName());
  return result;
}

/** The work under the lock, two round trips in every shape; returns 1 if it saw the lock fail. */
async function criticalSection(job: ContentionRun, reading: boolean): Promise<number> {
  if (job.limit) {
    const inside = await counter.incr(`${job.counterKey}:inside`);
    await work(job);
    await counter.decr(`${job.counterKey}:inside`);
    return inside > job.limit ? 1 : 0;
  }
  if (reading) {
    const first = await counter.get(job.counterKey);
    await work(job);
    return (await counter.get(job.counterKey)) === first ? 0 : 1;
  }
  const value = Number((await counter.get(job.counterKey)) ?? '0');
  await work(job);
  await counter.set(job.counterKey, String(value + 1));
  return 0;
}

function work(job: ContentionRun): Promise<void> | undefined {
  return job.workMs ? new Promise((resolve) => setTimeout(resolve, job.workMs)) : undefined;
}

process.on('message', (message: ContentionRun | 'exit') => {
  if (message === 'exit') {
    void Promise.all([...contenders.values()].map((c) => c.close()))
      .then(() => counter.quit())
      .then(() => process.exit(0));
    return;
  }
  void run(message).then((result) => process.send?.(result));
});
process.send?.('ready');

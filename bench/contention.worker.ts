// One contender process of the contention scenarios: `callers` concurrent loops take one key, each doing a
// non-atomic GET + SET inside the lock; it reports its turns, waits, critical-section intervals and lock commands.
import { commandsSent, excludeFromCount } from './command-counter';
import { Redis } from 'ioredis';
import { createContender, type Contender, type ContenderName } from './contenders';

export interface ContentionRun {
  contender: ContenderName;
  key: string;
  counterKey: string;
  duration: number;
  /** Concurrent callers in this process. */
  callers: number;
}

export interface ContentionResult {
  turns: number;
  waits: number[];
  intervals: Array<[number, number]>;
  commands: number;
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
  const result: ContentionResult = { turns: 0, waits: [], intervals: [], commands: 0 };
  const sentBefore = commandsSent();
  const end = now() + job.duration;
  const caller = async (): Promise<void> => {
    while (now() < end) {
      const asked = now();
      const release = await contender.acquire(job.key);
      const entered = now();
      const value = Number((await counter.get(job.counterKey)) ?? '0');
      await counter.set(job.counterKey, String(value + 1));
      const left = now();
      await release();
      result.turns += 1;
      result.waits.push(entered - asked);
      result.intervals.push([entered, left]);
    }
  };
  await Promise.all(Array.from({ length: job.callers }, caller));
  result.commands = commandsSent() - sentBefore;
  return result;
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

// One contender process of scenario 3: takes the hot key in a loop and does a non-atomic GET + SET inside.
import { commandsSent, excludeFromCount } from './command-counter';
import { Redis } from 'ioredis';
import { createContender, type Contender, type ContenderName } from './contenders';

export interface HotKeyRun {
  contender: ContenderName;
  key: string;
  counterKey: string;
  duration: number;
}

export interface HotKeyResult {
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

async function run(job: HotKeyRun): Promise<HotKeyResult> {
  const contender = contenders.get(job.contender) ?? (await createContender(job.contender, url));
  contenders.set(job.contender, contender);
  const result: HotKeyResult = { turns: 0, waits: [], intervals: [], commands: 0 };
  const sentBefore = commandsSent();
  const end = now() + job.duration;
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
  result.commands = commandsSent() - sentBefore;
  return result;
}

process.on('message', (message: HotKeyRun | 'exit') => {
  if (message === 'exit') {
    void Promise.all([...contenders.values()].map((c) => c.close()))
      .then(() => counter.quit())
      .then(() => process.exit(0));
    return;
  }
  void run(message).then((result) => process.send?.(result));
});
process.send?.('ready');

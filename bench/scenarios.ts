// The benchmark scenarios. Each runs every contender in the same run, interleaved in rounds, after a warm-up.
import { commandsBetween, commandsSent, commandsSentByName, excludeFromCount } from './command-counter';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Locked, LockModule, LockService } from '../lib';
import { createContender, hold, isPeer, NEST_LOCK_KINDS, PEERS, type Contender, type ContenderName } from './contenders';
import type { ContentionResult, ContentionRun } from './contention.worker';
import { commandStats, topLevelUsec } from './redis-cpu';
import { jain, median, overlaps, quantile } from './stats';

/** How big each scenario is. */
export interface BenchSizes {
  rounds: number;
  uncontendedCycles: number;
  manyKeysCallers: number;
  manyKeysMs: number;
  hotKeyWorkers: number;
  hotKeyMs: number;
  busyWorkers: number;
  busyCallers: number;
  busyMs: number;
  /** Concurrent callers in each process of scenario 9. */
  semaphoreCallers: number;
  idleWaiters: number;
  idleMs: number;
  decoratorCalls: number;
  soakCycles: number;
  /** LockModule apps created and closed in scenario 7. */
  appRestarts: number;
}

export type Row = Record<string, string | number>;

const UNCONTENDED: ContenderName[] = ['ideal', ...NEST_LOCK_KINDS, ...PEERS];
const WAITING: ContenderName[] = [...NEST_LOCK_KINDS, ...PEERS];
/** The contenders that have a counting semaphore (redlock and redlock-universal have none). */
const SEMAPHORES: ContenderName[] = ['nest-lock', 'redis-semaphore'];

async function withContenders<T>(names: ContenderName[], url: string, body: (all: Contender[]) => Promise<T>): Promise<T> {
  const all = await Promise.all(names.map((name) => createContender(name, url)));
  try {
    return await body(all);
  } finally {
    await Promise.all(all.map((contender) => contender.close()));
  }
}

/** An empty critical section. */
async function nothing(): Promise<void> {}

async function cycles(contender: Contender, key: string, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += 1) {
    await contender.run(key, nothing);
  }
  return ((performance.now() - started) * 1000) / count;
}

/**
 * Runs `work` and returns the Redis CPU that the commands it sent cost, in us (see `topLevelUsec`).
 * @param work returns the commands it sent, by name
 */
async function redisCost(redis: Redis, work: () => Promise<Record<string, number>>): Promise<number> {
  const before = await commandStats(redis);
  const sent = await work();
  return topLevelUsec(before, await commandStats(redis), sent);
}

/** Runs `work` in this process; returns the commands it sent, by name. */
async function sentBy(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = commandsSentByName();
  await work();
  return commandsBetween(before, commandsSentByName());
}

/** Scenario 1: one caller, acquire + release in a loop; also PING for the round-trip floor. */
export async function uncontended(url: string, sizes: BenchSizes): Promise<Row[]> {
  const ping = new Redis(url);
  excludeFromCount(ping);
  const samples = new Map<string, number[]>();
  const serverUs = new Map<string, number[]>();
  await withContenders(UNCONTENDED, url, async (all) => {
    for (const contender of all) {
      await cycles(contender, slug('s1', contender.name), Math.min(500, sizes.uncontendedCycles));
    }
    for (let round = 0; round < sizes.rounds; round += 1) {
      const started = performance.now();
      for (let i = 0; i < sizes.uncontendedCycles; i += 1) {
        await ping.ping();
      }
      push(samples, 'PING', ((performance.now() - started) * 1000) / sizes.uncontendedCycles);
      for (const contender of rotate(all, round)) {
        let us = 0;
        const cost = await redisCost(ping, () =>
          sentBy(async () => {
            us = await cycles(contender, slug('s1', contender.name), sizes.uncontendedCycles);
          }),
        );
        push(samples, contender.name, us);
        push(serverUs, contender.name, cost / sizes.uncontendedCycles);
      }
    }
  });
  await ping.quit();
  const idealUs = median(samples.get('ideal') ?? []);
  const idealServer = median(serverUs.get('ideal') ?? []);
  const bestPeer = Math.min(...PEERS.map((name) => median(samples.get(name) ?? [])));
  const bestPeerServer = Math.min(...PEERS.map((name) => median(serverUs.get(name) ?? [])));
  return [...samples.entries()].map(([name, values]) => {
    const server = median(serverUs.get(name) ?? []);
    return {
      contender: name,
      'us/cycle (median)': round1(median(values)),
      'x ideal': ratio(median(values) / idealUs),
      'x best peer': ratio(median(values) / bestPeer),
      'Redis CPU us/cycle': name === 'PING' ? '' : round1(server),
      'CPU x ideal': name === 'PING' ? '' : ratio(server / idealServer),
      'CPU x best peer': name === 'PING' ? '' : ratio(server / bestPeerServer),
      'cycles per Redis CPU second': name === 'PING' ? '' : Math.round(1e6 / server),
    };
  });
}

/** Scenario 2: many concurrent callers, each on its own key. */
export async function manyKeys(url: string, sizes: BenchSizes): Promise<Row[]> {
  const samples = new Map<string, number[]>();
  const serverUs = new Map<string, number[]>();
  const redis = new Redis(url);
  excludeFromCount(redis);
  await withContenders(UNCONTENDED, url, async (all) => {
    for (let round = 0; round <= sizes.rounds; round += 1) {
      for (const contender of rotate(all, round)) {
        const ms = round === 0 ? Math.min(300, sizes.manyKeysMs) : sizes.manyKeysMs;
        const end = performance.now() + ms;
        let done = 0;
        const cost = await redisCost(redis, () =>
          sentBy(() =>
            Promise.all(
              Array.from({ length: sizes.manyKeysCallers }, async (_, caller) => {
                while (performance.now() < end) {
                  await contender.run(`${slug('s2', contender.name)}:${caller}`, nothing);
                  done += 1;
                }
              }),
            ),
          ),
        );
        if (round > 0) {
          push(samples, contender.name, (done * 1000) / ms);
          push(serverUs, contender.name, cost / done);
        }
      }
    }
  });
  await redis.quit();
  const idealRate = median(samples.get('ideal') ?? []);
  const bestPeer = Math.max(...PEERS.map((name) => median(samples.get(name) ?? [])));
  return UNCONTENDED.map((name) => ({
    contender: name,
    'cycles/s (median)': Math.round(median(samples.get(name) ?? [])),
    'x ideal': ratio(median(samples.get(name) ?? []) / idealRate),
    'x best peer': ratio(median(samples.get(name) ?? []) / bestPeer),
    'Redis CPU us/cycle': round1(median(serverUs.get(name) ?? [])),
  }));
}

/** The shape of a contention scenario: processes, and concurrent callers in each, all on one key. */
export interface ContentionShape {
  /** Names the scenario's keys. */
  name: string;
  workers: number;
  callers: number;
  duration: number;
  /** What is compared: a row each, the first one measured against the best of the others. @default the waiting contenders */
  variants?: ContentionVariant[];
}

/** One row of a contention scenario: a contender, and what its callers take (permits, read locks). */
export interface ContentionVariant {
  label: string;
  contender: ContenderName;
  job?: Pick<ContentionRun, 'limit' | 'readShare' | 'readLocks' | 'workMs'>;
}

/** A contention scenario's table, and every contender's waits (for the distribution chart). */
export interface ContentionOutcome {
  rows: Row[];
  waits: Map<string, number[]>;
}

/**
 * Scenarios 3 and 8: contenders in separate processes, each with concurrent callers, on one key; a non-atomic
 * GET + SET inside. Lost updates and overlapping sections would show a broken lock.
 */
export async function contention(url: string, sizes: BenchSizes, shape: ContentionShape): Promise<ContentionOutcome> {
  const workers = await Promise.all(Array.from({ length: shape.workers }, () => startWorker(url)));
  const redis = new Redis(url);
  excludeFromCount(redis);
  const totals = new Map<string, { results: ContentionResult[]; lost: number; ms: number; serverUs: number }>();
  const variants: ContentionVariant[] = shape.variants ?? WAITING.map((name) => ({ label: name, contender: name }));
  try {
    for (let round = 0; round <= sizes.rounds; round += 1) {
      for (const { label, contender, job: extras } of rotate(variants, round)) {
        const key = slug(shape.name, label);
        const counterKey = `${key}:counter`;
        await redis.del(key, counterKey);
        const duration = round === 0 ? Math.min(500, shape.duration) : shape.duration;
        const job: ContentionRun = { contender, key, counterKey, duration, callers: shape.callers, ...extras };
        let results: ContentionResult[] = [];
        const serverUs = await redisCost(redis, async () => {
          results = await Promise.all(workers.map((worker) => runWorker(worker, job)));
          return results.reduce<Record<string, number>>((sum, result) => {
            for (const [name, calls] of Object.entries(result.sent)) {
              sum[name] = (sum[name] ?? 0) + calls;
            }
            return sum;
          }, {});
        });
        if (round === 0) {
          continue;
        }
        // Readers and permit holders do not write the counter: only the writers' updates must all be there.
        const writes = job.limit ? 0 : results.reduce((sum, result) => sum + result.turns - result.reads, 0);
        const counted = Number((await redis.get(counterKey)) ?? '0');
        const total = totals.get(label) ?? { results: [], lost: 0, ms: 0, serverUs: 0 };
        total.results.push(...results);
        total.lost += writes - counted;
        total.ms += duration;
        total.serverUs += serverUs;
        totals.set(label, total);
      }
    }
  } finally {
    await Promise.all(workers.map(stopWorker));
    await redis.quit();
  }
  const waits = new Map<string, number[]>();
  const rows = variants.map(({ label: name }): Row => {
    const { results, lost, ms, serverUs } = totals.get(name) ?? { results: [], lost: 0, ms: 0, serverUs: 0 };
    const turns = results.reduce((sum, result) => sum + result.turns, 0);
    const all = results.flatMap((result) => result.waits);
    waits.set(name, all);
    const perWorker = Array.from({ length: shape.workers }, (_, worker) =>
      results.filter((_, index) => index % shape.workers === worker).reduce((sum, result) => sum + result.turns, 0),
    );
    const commands = results.reduce((sum, result) => sum + result.commands, 0);
    const reads = results.reduce((sum, result) => sum + result.reads, 0);
    const reading = variants.some((variant) => variant.job?.readShare !== undefined);
    const shared = variants.some((variant) => variant.job);
    return {
      contender: name,
      'CS/s': Math.round((turns * 1000) / ms),
      ...(reading && { 'reads/s': Math.round((reads * 1000) / ms) }),
      'wait p50 ms': round1(quantile(all, 0.5)),
      'wait p99 ms': round1(quantile(all, 0.99)),
      'wait max ms': round1(Math.max(...all)),
      'Jain (instances)': round3(jain(perWorker)),
      'lock commands/CS': round1(commands / turns),
      'Redis CPU us/CS': round1(serverUs / turns),
      'lost updates': lost,
      'overlapping CS': overlaps(results.flatMap((result) => result.intervals)),
      ...(shared && { 'over limit / torn reads': results.reduce((sum, result) => sum + result.violations, 0) }),
    };
  });
  // Against the other libraries; a scenario without them (read-write against the mutex) against its other variants.
  const peers = rows.some((row) => isPeer(String(row.contender)))
    ? rows.filter((row) => isPeer(String(row.contender)))
    : rows.filter((row) => row.contender !== variants[0].label);
  const best = (column: string, pick: (...values: number[]) => number): number => pick(...peers.map((row) => Number(row[column])));
  return {
    waits,
    rows: rows.map((row) => ({
      ...row,
      'CS/s x best peer': ratio(Number(row['CS/s']) / best('CS/s', Math.max)),
      'p99 x best peer': ratio(Number(row['wait p99 ms']) / best('wait p99 ms', Math.min)),
      'max x best peer': ratio(Number(row['wait max ms']) / best('wait max ms', Math.min)),
    })),
  };
}

/** How long waiters get to queue and subscribe before "after subscribing" counts, in ms. */
const SETTLE_MS = 500;

/**
 * Scenarios 4 and 10: waiters on a lock (or on every permit of a semaphore of `limit`) held the whole time; the
 * commands they send while waiting, in all and after they had time to subscribe. The holder's own commands (its
 * watchdog) are not counted.
 */
export async function idleWaiters(url: string, sizes: BenchSizes, limit?: number): Promise<Row[]> {
  const rows: Row[] = [];
  const settle = Math.min(SETTLE_MS, sizes.idleMs / 2);
  for (const name of limit ? SEMAPHORES : WAITING) {
    const holder = await createContender(name, url, true);
    const waiters = await createContender(name, url);
    const key = slug(limit ? 's10' : 's4', name);
    const shape = limit === undefined ? undefined : { limit };
    const releases = await Promise.all(Array.from({ length: limit ?? 1 }, () => hold(holder, key, shape)));
    const before = commandsSent();
    const waiting = Array.from({ length: sizes.idleWaiters }, () => waiters.run(key, nothing, shape));
    await new Promise((resolve) => setTimeout(resolve, settle));
    const settled = commandsSent();
    await new Promise((resolve) => setTimeout(resolve, sizes.idleMs - settle));
    const sent = commandsSent() - before;
    await Promise.all(releases.map((release) => release()));
    await Promise.all(waiting);
    await Promise.all([holder.close(), waiters.close()]);
    rows.push({
      contender: name,
      waiters: sizes.idleWaiters,
      'held for ms': sizes.idleMs,
      'commands while waiting': sent,
      [`after the first ${settle} ms`]: before + sent - settled,
      'commands/s': Math.round((sent * 1000) / sizes.idleMs),
      'commands/s once subscribed': Math.round(((before + sent - settled) * 1000) / (sizes.idleMs - settle)),
    });
  }
  return rows;
}

@Injectable()
class DecoratedWork {
  constructor(readonly locks: LockService) {}

  async plain(): Promise<number> {
    return 1;
  }

  @Locked('bench:s5:decorated')
  async decorated(): Promise<number> {
    return 1;
  }
}

/** Scenario 5: a no-op method plain, through `using`, and through `@Locked`, uncontended. */
export async function decoratorOverhead(url: string, sizes: BenchSizes): Promise<Row[]> {
  const client = new Redis(url);
  @Module({ imports: [LockModule.forRoot({ redis: client, logger: false })], providers: [DecoratedWork] })
  class DecoratorModule {}
  const app = await NestFactory.createApplicationContext(DecoratorModule, { logger: false });
  const work = app.get(DecoratedWork);
  const variants: Array<[string, () => Promise<unknown>]> = [
    ['plain call', () => work.plain()],
    ['lockService.using', () => work.locks.using('bench:s5:using', () => work.plain())],
    ['@Locked', () => work.decorated()],
  ];
  const samples = new Map<string, number[]>();
  for (let round = 0; round <= sizes.rounds; round += 1) {
    for (const [name, call] of rotate(variants, round)) {
      const started = performance.now();
      for (let i = 0; i < sizes.decoratorCalls; i += 1) {
        await call();
      }
      if (round > 0) {
        push(samples, name, ((performance.now() - started) * 1000) / sizes.decoratorCalls);
      }
    }
  }
  await app.close();
  await client.quit();
  const using = median(samples.get('lockService.using') ?? []);
  return [...samples.entries()].map(([name, values]) => ({
    variant: name,
    'us/call (median)': round1(median(values)),
    'over using, us': name === '@Locked' ? round1(median(values) - using) : '',
    'over using, %': name === '@Locked' ? round1(((median(values) - using) / using) * 100) : '',
  }));
}

/** Scenario 6: many uncontended cycles; heap (after GC) and open handles before and after. */
export async function soak(url: string, sizes: BenchSizes): Promise<Row[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const measure = (): { heap: number; handles: number } => {
    gc?.();
    return { heap: process.memoryUsage().heapUsed, handles: process.getActiveResourcesInfo().length };
  };
  const contender = await createContender('nest-lock', url);
  await cycles(contender, 'bench:s6', Math.min(1000, sizes.soakCycles));
  const before = measure();
  const started = performance.now();
  for (let i = 0; i < sizes.soakCycles; i += 1) {
    await contender.run(`bench:s6:${i % 1000}`, nothing);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = measure();
  await contender.close();
  return [
    {
      cycles: sizes.soakCycles,
      seconds: round1(seconds),
      'heap before MB': round1(before.heap / 2 ** 20),
      'heap after MB': round1(after.heap / 2 ** 20),
      'growth MB': round1((after.heap - before.heap) / 2 ** 20),
      'handles before': before.handles,
      'handles after': after.handles,
      gc: gc ? 'forced' : 'not exposed',
    },
  ];
}

/**
 * Scenario 7: a process that creates and closes LockModule apps (test suites, hot reload): `using()` on a no-op
 * and a plain `await`, before and after `appRestarts` apps came, used `using()` once, and went.
 */
export async function appRestarts(url: string, sizes: BenchSizes): Promise<Row[]> {
  const measure = (): Promise<{ using: number; await: number }> =>
    withLockApp(url, async (locks) => {
      const using = async (): Promise<number> => {
        const started = performance.now();
        for (let i = 0; i < sizes.decoratorCalls; i += 1) {
          await locks.using('bench:s7', async () => 1);
        }
        return ((performance.now() - started) * 1000) / sizes.decoratorCalls;
      };
      await using();
      await plainAwaits(100_000);
      return { using: median(await sample(sizes.rounds, using)), await: median(await sample(sizes.rounds, () => plainAwaits(100_000))) };
    });
  const before = await measure();
  for (let i = 0; i < sizes.appRestarts; i += 1) {
    await withLockApp(url, (locks) => locks.using(`bench:s7:${i}`, async () => 1));
  }
  const after = await measure();
  return [
    {
      measure: 'lockService.using, us',
      before: round1(before.using),
      after: round1(after.using),
      'after x before': ratio(after.using / before.using),
    },
    {
      measure: 'plain await, ns',
      before: round1(before.await * 1000),
      after: round1(after.await * 1000),
      'after x before': ratio(after.await / before.await),
    },
  ];
}

async function withLockApp<T>(url: string, body: (locks: LockService) => Promise<T>): Promise<T> {
  const client = new Redis(url);
  @Module({ imports: [LockModule.forRoot({ redis: client, logger: false })] })
  class RestartedModule {}
  const app = await NestFactory.createApplicationContext(RestartedModule, { logger: false });
  try {
    return await body(app.get(LockService));
  } finally {
    await app.close();
    await client.quit();
  }
}

async function sample(rounds: number, run: () => Promise<number>): Promise<number[]> {
  const values: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    values.push(await run());
  }
  return values;
}

/** us per `await` of an already-resolved async call: what every promise of the process costs. */
async function plainAwaits(count: number): Promise<number> {
  const noop = async (): Promise<number> => 1;
  const started = performance.now();
  for (let i = 0; i < count; i += 1) {
    await noop();
  }
  return ((performance.now() - started) * 1000) / count;
}

function startWorker(url: string): Promise<ChildProcess> {
  const child = fork(join(__dirname, 'contention.worker.ts'), [url], {
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', join(__dirname, '..', 'test', 'support', 'resolve-ts.js')],
    env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'test', 'tsconfig.json') },
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`hot-key worker exited with ${code}`)));
  });
}

function runWorker(worker: ChildProcess, job: ContentionRun): Promise<ContentionResult> {
  return new Promise((resolve) => {
    worker.once('message', (result) => resolve(result as ContentionResult));
    worker.send(job);
  });
}

function stopWorker(worker: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    worker.send('exit');
  });
}

/** A key of the scenario for the contender (or variant). */
function slug(scenario: string, name: string): string {
  return `bench:${scenario}:${name.replace(/\W+/g, '-')}`;
}

/** The same items, starting at a different one each round, so that no contender always runs first. */
function rotate<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

function push(samples: Map<string, number[]>, name: string, value: number): void {
  samples.set(name, [...(samples.get(name) ?? []), value]);
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function ratio(value: number): string {
  return `${value.toFixed(2)}x`;
}

// `npm run bench` (quick), `npm run bench -- --full`, `npm run bench -- --smoke` (tiny counts, for CI),
// `npm run bench -- --only 3` (one scenario, nothing written), `--rounds 1` (fewer rounds than the mode's).
import './command-counter';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chart, distributionChart, markdown, table, type Section } from './report';
import { summary } from './targets';
import {
  appRestarts,
  contention,
  decoratorOverhead,
  idleWaiters,
  manyKeys,
  soak,
  uncontended,
  type BenchSizes,
  type ContentionShape,
  type Row,
} from './scenarios';

/** The limit of the semaphore scenarios. */
const SEMAPHORE_LIMIT = 4;
/** ms a permit is held in scenario 9 (between its INCR and DECR). */
const SEMAPHORE_HOLD_MS = 1;
/** The share of readers in the read-mostly scenarios. */
const READ_SHARE = 0.9;
/** ms of work in a critical section of scenario 11. */
const READ_MS = 2;

const SIZES: Record<'smoke' | 'quick' | 'full', BenchSizes> = {
  smoke: {
    rounds: 1,
    uncontendedCycles: 50,
    manyKeysCallers: 20,
    manyKeysMs: 200,
    hotKeyWorkers: 2,
    hotKeyMs: 300,
    busyWorkers: 2,
    busyCallers: 4,
    busyMs: 300,
    semaphoreCallers: 2,
    idleWaiters: 10,
    idleMs: 300,
    decoratorCalls: 50,
    soakCycles: 500,
    appRestarts: 5,
  },
  quick: {
    rounds: 3,
    uncontendedCycles: 1500,
    manyKeysCallers: 200,
    manyKeysMs: 1200,
    hotKeyWorkers: 8,
    hotKeyMs: 2500,
    busyWorkers: 4,
    busyCallers: 16,
    busyMs: 2500,
    semaphoreCallers: 4,
    idleWaiters: 100,
    idleMs: 5000,
    decoratorCalls: 1500,
    soakCycles: 100_000,
    appRestarts: 100,
  },
  full: {
    rounds: 5,
    uncontendedCycles: 5000,
    manyKeysCallers: 200,
    manyKeysMs: 5000,
    hotKeyWorkers: 8,
    hotKeyMs: 10_000,
    busyWorkers: 4,
    busyCallers: 16,
    busyMs: 10_000,
    semaphoreCallers: 4,
    idleWaiters: 100,
    idleMs: 5000,
    decoratorCalls: 5000,
    soakCycles: 1_000_000,
    appRestarts: 300,
  },
};

async function main(): Promise<void> {
  const mode = process.argv.includes('--full') ? 'full' : process.argv.includes('--smoke') ? 'smoke' : 'quick';
  const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : undefined;
  const sizes = { ...SIZES[mode], ...(rounds !== undefined && { rounds }) };
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const machine = await describeMachine(url, mode);
  console.log(`${machine}\n`);
  const sections: Section[] = [];
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const step = async (title: string, note: string, run: () => Promise<Row[]>): Promise<void> => {
    if (only !== undefined && !title.startsWith(`${only}.`)) {
      return;
    }
    const started = performance.now();
    const rows = await run();
    sections.push({ title, note, rows });
    console.log(`## ${title}\n\n${note}\n\n${table(rows)}\n(${Math.round((performance.now() - started) / 1000)} s)\n`);
  };
  await step(
    '1. Uncontended cycle',
    'One caller, acquire + release in a loop, for every contender and every kind of nest-lock caller (acquire/release or a @Locked method, with the watchdog or autoExtend: false). Lower is better. Targets: nest-lock at most 1.05x ideal, its Redis CPU at most 1.5x ideal.',
    () => uncontended(url, sizes),
  );
  await step(
    '2. Many keys',
    `${sizes.manyKeysCallers} concurrent callers, each on its own key. Higher is better. Targets: at least 0.9x ideal and at least the best peer.`,
    () => manyKeys(url, sizes),
  );
  const waits: Array<{ title: string; series: Map<string, number[]> }> = [];
  const contended = (shape: ContentionShape, title: string) => async (): Promise<Row[]> => {
    const outcome = await contention(url, sizes, shape);
    waits.push({ title, series: outcome.waits });
    return outcome.rows;
  };
  const hotKey: ContentionShape = { name: 's3', workers: sizes.hotKeyWorkers, callers: 1, duration: sizes.hotKeyMs };
  await step(
    '3. One hot key',
    `${sizes.hotKeyWorkers} instances (processes) x 1 caller on one key; the critical section (CS) is a non-atomic GET + SET. Lock commands/CS and Redis CPU/CS leave out the CS's own 2 commands. Targets: CS/s at least the best peer (every caller); with the watchdog (the default), wait p99 at most 0.2x the best peer's; 0 lost updates, 0 overlaps.`,
    contended(hotKey, '3. One hot key, 8 instances x 1 caller'),
  );
  await step(
    '4. Idle waiters',
    `${sizes.idleWaiters} waiters in one process on a lock held for ${sizes.idleMs} ms (the holder's commands not counted). Target: nest-lock sends none once its waiters have subscribed.`,
    () => idleWaiters(url, sizes),
  );
  await step('5. Decorator overhead', 'A no-op method, uncontended. Target: @Locked at most 5% (or 10 us) over using().', () =>
    decoratorOverhead(url, sizes),
  );
  await step(
    '6. Soak',
    `${sizes.soakCycles} uncontended nest-lock cycles over 1000 keys. Target: heap growth under 5 MB, no handle left open.`,
    () => soak(url, sizes),
  );
  const busy: ContentionShape = { name: 's8', workers: sizes.busyWorkers, callers: sizes.busyCallers, duration: sizes.busyMs };
  await step(
    '8. Busy service',
    `${sizes.busyWorkers} instances (processes) x ${sizes.busyCallers} concurrent callers on one key, the same critical section. Target: CS/s at least 2x the best peer (every caller), 0 lost updates.`,
    contended(busy, `8. Busy service, ${sizes.busyWorkers} instances x ${sizes.busyCallers} callers`),
  );
  const permit = { limit: SEMAPHORE_LIMIT, workMs: SEMAPHORE_HOLD_MS };
  const hotSemaphore: ContentionShape = {
    name: 's9',
    workers: sizes.hotKeyWorkers,
    callers: sizes.semaphoreCallers,
    duration: sizes.hotKeyMs,
    variants: (['nest-lock', 'nest-lock autoExtend:false', 'redis-semaphore'] as const).map((name) => ({
      label: name,
      contender: name,
      job: permit,
    })),
  };
  await step(
    '9. Hot semaphore',
    `${sizes.hotKeyWorkers} instances (processes) x ${sizes.semaphoreCallers} callers on one semaphore of limit ${SEMAPHORE_LIMIT}; the critical section is an INCR, ${SEMAPHORE_HOLD_MS} ms, and a DECR of a count of holders inside (over limit: a holder found more than ${SEMAPHORE_LIMIT} inside). Compared with redis-semaphore's Semaphore (redlock and redlock-universal have none). Targets: CS/s at least the peer's, 0 over limit.`,
    contended(
      hotSemaphore,
      `9. Hot semaphore, ${sizes.hotKeyWorkers} instances x ${sizes.semaphoreCallers} callers, limit ${SEMAPHORE_LIMIT}`,
    ),
  );
  await step(
    '10. Idle waiters on a full semaphore',
    `${sizes.idleWaiters} waiters in one process on a semaphore of limit ${SEMAPHORE_LIMIT} whose permits are held for ${sizes.idleMs} ms (the holder's commands not counted). Target: nest-lock sends none once its waiters have subscribed.`,
    () => idleWaiters(url, sizes, SEMAPHORE_LIMIT),
  );
  const readMostly = (name: string, workMs: number): ContentionShape => ({
    name,
    workers: sizes.hotKeyWorkers,
    callers: 1,
    duration: sizes.hotKeyMs,
    variants: [
      { label: 'nest-lock read-write', contender: 'nest-lock', job: { readShare: READ_SHARE, readLocks: true, workMs } },
      { label: 'nest-lock mutex', contender: 'nest-lock', job: { readShare: READ_SHARE, readLocks: false, workMs } },
    ],
  });
  const readMostlyNote = (work: string): string =>
    `${sizes.hotKeyWorkers} instances (processes) x 1 caller on one key, ${READ_SHARE * 100}% of the turns reading (two GETs that must agree; torn reads: they did not), the rest writing (GET + SET), ${work}. Read locks and a write lock, against the same workload under the mutex (no peer has a read-write lock); "x best peer" is x the mutex. Target: reads/s well above the mutex's, 0 lost updates, 0 torn reads.`;
  await step(
    '11. Read-mostly',
    readMostlyNote(`with ${READ_MS} ms of work between the two round trips (a render, a remote call)`),
    contended(
      readMostly('s11', READ_MS),
      `11. Read-mostly, ${sizes.hotKeyWorkers} instances, ${READ_SHARE * 100}% readers, ${READ_MS} ms sections`,
    ),
  );
  await step(
    '12. Read-mostly, bare sections',
    readMostlyNote('and nothing between the two round trips'),
    contended(readMostly('s12', 0), `12. Read-mostly, ${sizes.hotKeyWorkers} instances, ${READ_SHARE * 100}% readers, bare sections`),
  );
  await step(
    '7. App restarts',
    `${sizes.appRestarts} LockModule apps created and closed in one process. Target: no slower afterwards (about 1x; it grew with every app before nest-lock shared one AsyncLocalStorage).`,
    () => appRestarts(url, sizes),
  );

  const targets: Section = {
    title: 'Targets',
    note: "Each scenario's number for every kind of nest-lock caller, the best peer's (the best of redlock, redis-semaphore and redlock-universal that ran it), the ratio, and the target.",
    rows: summary(sections),
  };
  console.log(`## ${targets.title}\n\n${targets.note}\n\n${table(targets.rows)}`);
  if (only !== undefined) {
    process.exit(0);
  }
  const results = mode === 'smoke' ? join(tmpdir(), 'nest-lock-bench-smoke') : join(__dirname, 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'latest.md'), markdown(machine, [targets, ...sections]));
  writeFileSync(join(results, 'latest.svg'), chart(panels(sections)));
  writeFileSync(join(results, 'latest-waits.svg'), distributionChart(waits));
  console.log(`\nWrote ${join(results, 'latest.md')}, latest.svg and latest-waits.svg`);
  process.exit(0);
}

function panels(sections: Section[]): Parameters<typeof chart>[0] {
  const bars = (prefix: string, column: string) =>
    (sections.find((section) => section.title.startsWith(prefix))?.rows ?? [])
      .filter((row) => row[column] !== '')
      .map((row) => ({ label: String(row.contender), value: Number(row[column]) }));
  return [
    { title: '1. Uncontended cycle', unit: 'us per acquire + release (lower is better)', bars: bars('1.', 'us/cycle (median)') },
    { title: '1. Redis CPU per cycle', unit: 'us of Redis CPU (lower is better)', bars: bars('1.', 'Redis CPU us/cycle') },
    { title: '2. Many keys', unit: 'cycles/s, 200 callers (higher is better)', bars: bars('2.', 'cycles/s (median)') },
    { title: '3. One hot key', unit: 'critical sections/s (higher is better)', bars: bars('3.', 'CS/s') },
    { title: '3. One hot key', unit: 'acquire wait p99 ms (lower is better)', bars: bars('3.', 'wait p99 ms') },
    { title: '3. One hot key', unit: 'worst acquire wait ms (lower is better)', bars: bars('3.', 'wait max ms') },
    { title: '8. Busy service', unit: 'critical sections/s (higher is better)', bars: bars('8.', 'CS/s') },
    { title: '8. Busy service', unit: 'worst acquire wait ms (lower is better)', bars: bars('8.', 'wait max ms') },
    { title: `9. Hot semaphore (limit ${SEMAPHORE_LIMIT})`, unit: 'critical sections/s (higher is better)', bars: bars('9.', 'CS/s') },
    { title: '11. Read-mostly (90% readers)', unit: 'reads/s (higher is better)', bars: bars('11.', 'reads/s') },
  ];
}

async function describeMachine(url: string, mode: string): Promise<string> {
  const client = new Redis(url);
  const info = await client.info('server');
  await client.quit();
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const git = (() => {
    try {
      return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return 'unknown';
    }
  })();
  return `Mode ${mode}; ${new Date().toISOString()}; ${cpu}, ${cpus().length} cores; Node ${process.version}; Redis ${redisVersion}; commit ${git}.`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

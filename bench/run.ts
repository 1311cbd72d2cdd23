// `npm run bench` (quick), `npm run bench -- --full`, `npm run bench -- --smoke` (tiny counts, for CI),
// `npm run bench -- --only 3` (one scenario, nothing written).
import './command-counter';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chart, markdown, table, type Section } from './report';
import { appRestarts, decoratorOverhead, hotKey, idleWaiters, manyKeys, soak, uncontended, type BenchSizes, type Row } from './scenarios';

const SIZES: Record<'smoke' | 'quick' | 'full', BenchSizes> = {
  smoke: {
    rounds: 1,
    uncontendedCycles: 50,
    manyKeysCallers: 20,
    manyKeysMs: 200,
    hotKeyWorkers: 2,
    hotKeyMs: 500,
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
    idleWaiters: 100,
    idleMs: 5000,
    decoratorCalls: 5000,
    soakCycles: 1_000_000,
    appRestarts: 300,
  },
};

async function main(): Promise<void> {
  const mode = process.argv.includes('--full') ? 'full' : process.argv.includes('--smoke') ? 'smoke' : 'quick';
  const sizes = SIZES[mode];
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const machine = await describeMachine(url, mode);
  console.log(`${machine}\n`);
  const sections: Section[] = [];
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const step = async (title: string, note: string, run: () => Promise<Row[]>): Promise<void> => {
    if (only !== undefined && !title.startsWith(`${only}.`)) {
      return;
    }
    const rows = await run();
    sections.push({ title, note, rows });
    console.log(`## ${title}\n\n${note}\n\n${table(rows)}`);
  };
  await step(
    '1. Uncontended cycle',
    'One caller, acquire + release in a loop. Lower is better. Target: nest-lock at most 1.05x ideal.',
    () => uncontended(url, sizes),
  );
  await step(
    '2. Many keys',
    `${sizes.manyKeysCallers} concurrent callers, each on its own key. Higher is better. Target: at least 0.9x ideal and at least the best peer.`,
    () => manyKeys(url, sizes),
  );
  await step(
    '3. One hot key',
    `${sizes.hotKeyWorkers} contenders in separate processes on one key; the critical section (CS) is a non-atomic GET + SET. Lock commands/CS excludes the CS's own 2. Targets: p99 at most 0.2x best peer, Jain fairness at least 0.98, CS/s at least the best peer, at most 3 commands/CS, 0 lost updates, 0 overlaps.`,
    () => hotKey(url, sizes),
  );
  await step(
    '4. Idle waiters',
    `${sizes.idleWaiters} waiters in one process on a lock held for ${sizes.idleMs} ms. Target: nest-lock fewer than 10 commands in total.`,
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
  await step(
    '7. App restarts',
    `${sizes.appRestarts} LockModule apps created and closed in one process. Target: no slower afterwards (about 1x; it grew with every app before nest-lock shared one AsyncLocalStorage).`,
    () => appRestarts(url, sizes),
  );

  if (only !== undefined) {
    process.exit(0);
  }
  const results = mode === 'smoke' ? join(tmpdir(), 'nest-lock-bench-smoke') : join(__dirname, 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'latest.md'), markdown(machine, sections));
  writeFileSync(join(results, 'latest.svg'), chart(panels(sections)));
  console.log(`\nWrote ${join(results, 'latest.md')} and latest.svg`);
  process.exit(0);
}

function panels(sections: Section[]): Parameters<typeof chart>[0] {
  const bars = (index: number, column: string, skip: string[] = []) =>
    sections[index].rows
      .filter((row) => !skip.includes(String(row.contender)))
      .map((row) => ({ label: String(row.contender), value: Number(row[column]) }));
  return [
    { title: '1. Uncontended cycle', unit: 'us per acquire + release (lower is better)', bars: bars(0, 'us/cycle (median)') },
    { title: '2. Many keys', unit: 'cycles/s, 200 callers (higher is better)', bars: bars(1, 'cycles/s (median)') },
    { title: '3. One hot key', unit: 'critical sections/s (higher is better)', bars: bars(2, 'CS/s') },
    { title: '3. One hot key', unit: 'acquire wait p99 ms (lower is better)', bars: bars(2, 'wait p99 ms') },
    { title: '3. One hot key', unit: 'worst acquire wait ms (lower is better)', bars: bars(2, 'wait max ms') },
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

// The adversarial stress run: worker processes lock at random while the runner kills, pauses, disconnects them and
// has them close their app mid-work; the referee (stress.checker.ts) records what happened inside the critical
// sections, and the runner judges it.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { Checker, SHARED_KEYS } from './stress.checker';
import { judgeTerms, type TermRecord } from './leader-terms.referee';
import type { StressMode, StressReport, WorkerConfig } from './stress.protocol';

/** How a run is shaped. */
export interface StressOptions {
  /** How long the workers lock, in ms. */
  duration: number;
  /** Redlock quorum over 3 redis-servers instead of one. */
  quorum?: boolean;
  /** Random locks (the default), or leader election for one name (see stress.leader-worker.ts). */
  mode?: StressMode;
  workers?: number;
  loops?: number;
  keys?: number;
  /** Mean ms between two faults. */
  faultEvery?: number;
  seed?: number;
  /** The workers' fairness settings (cohort, starvation); the library's defaults if left out. */
  settings?: WorkerConfig['settings'];
  /** Progress lines go here. */
  log?: (line: string) => void;
}

/** What a run found. */
export interface StressResult {
  violations: string[];
  stats: Record<string, number>;
}

const COMMAND_TIMEOUT = 500;
/** How late a wait may end past its bound: an attempt in flight (one command timeout), and scheduling on 2 cores. */
const WAIT_MARGIN = COMMAND_TIMEOUT + 400;
/** After the workers stop: the longest ttl and wait a killed worker may have left behind, and some slack. */
const SETTLE = 5_000 + 3_000 + 1_000;

interface Worker {
  id: string;
  child: ChildProcess;
  killed: boolean;
  /** Asked to close its app mid-work: it ends by itself, and takes no other fault. */
  shuttingDown: boolean;
  ready: Promise<void>;
  exited: Promise<void>;
}

/**
 * Runs the stress and returns what it found; never throws for a violation (the caller decides).
 * @param options duration, mode and size
 */
export async function runStress(options: StressOptions): Promise<StressResult> {
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? randomBytes(4).readUInt32BE();
  const mode = options.mode ?? 'locks';
  // Quorum mode refuses semaphores and read locks: its workers take exclusive locks only.
  const shares = !options.quorum;
  const keys =
    mode === 'leader' ? ['L'] : [...Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`), ...(shares ? SHARED_KEYS : [])];
  const servers = await Promise.all(Array.from({ length: options.quorum ? 3 : 1 }, () => startRedisServer()));
  const admins = servers.map((server) => new Redis(server.url));
  const checkerPrefix = `stress:${randomBytes(4).toString('hex')}:`;
  const checkerRedis = new Redis(REDIS_URL);
  const checker = new Checker(checkerRedis, checkerPrefix);
  const reports: Array<Extract<StressReport, { type: 'acquisition' }>> = [];
  const terms = new Map<number, TermRecord>();
  const killed = new Set<string>();
  const violations: string[] = [];
  const pauses: Array<{ worker: string; from: number; to: number }> = [];
  const workers: Worker[] = [];
  const faults: Record<string, number> = {};
  let shutdownsMidWork = 0;
  let nextWorker = 0;

  const spawn = (): Worker => {
    const config: WorkerConfig = {
      id: `w${(nextWorker += 1)}`,
      redis: options.quorum ? servers.map((server) => server.url) : servers[0].url,
      prefix: 'stress:',
      checkerUrl: REDIS_URL,
      checkerPrefix,
      loops: options.loops ?? 3,
      keys: options.keys ?? 3,
      shares,
      commandTimeout: COMMAND_TIMEOUT,
      seed: seed + nextWorker,
      settings: options.settings ?? {},
    };
    const child = fork(join(__dirname, mode === 'leader' ? 'stress.leader-worker.ts' : 'stress.worker.ts'), [JSON.stringify(config)], {
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', join(__dirname, '..', 'support', 'resolve-ts.js')],
      env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let markReady: () => void = () => undefined;
    const worker: Worker = {
      id: config.id,
      child,
      killed: false,
      shuttingDown: false,
      ready: new Promise((resolve) => (markReady = resolve)),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    child.on('message', (report: StressReport) => {
      if (report.type === 'ready') {
        markReady();
      } else if (report.type === 'acquisition') {
        reports.push(report);
      } else if (report.type === 'elected') {
        terms.set(report.term, { ...terms.get(report.term), term: report.term, holder: report.worker, electedAt: report.at });
      } else if (report.type === 'term-ended') {
        const known = terms.get(report.term);
        // An end without a start: the worker stalled past the lease before it could say it leads (it never did).
        if (known) {
          terms.set(report.term, { ...known, endedAt: report.at, reason: report.reason });
        }
      } else if (report.type === 'violation') {
        violations.push(`${config.id}: ${report.what}`);
      } else if (report.type === 'shutdown' && report.inside > 0) {
        shutdownsMidWork += 1;
      }
    });
    child.on('exit', (code, signal) => {
      markReady();
      if (!worker.killed && code !== 0) {
        violations.push(`${config.id} exited with ${code ?? signal}`);
      }
    });
    workers.push(worker);
    return worker;
  };

  const live = (): Worker[] => workers.filter((worker) => !worker.killed && !worker.shuttingDown && worker.child.exitCode === null);
  const kill = async (victim: Worker): Promise<void> => {
    victim.killed = true;
    killed.add(victim.id);
    victim.child.kill('SIGKILL');
    await checker.forget(keys, victim.id);
    spawn();
  };
  let injected = 0;
  const inject = async (): Promise<void> => {
    const victim = live()[Math.floor(Math.random() * live().length)];
    const kinds = [
      ...(mode === 'locks' ? ['shutdown'] : []),
      'kill',
      'kill-head',
      'pause',
      'pause',
      'pubsub',
      'connections',
      'pause-redis',
      ...(options.quorum ? ['freeze-node'] : []),
    ];
    // Every run of random locks has a shutdown mid-work at least: its first fault.
    const kind = injected++ === 0 && mode === 'locks' ? 'shutdown' : kinds[Math.floor(Math.random() * kinds.length)];
    faults[kind] = (faults[kind] ?? 0) + 1;
    const target = kind === 'kill-head' ? await headOfAQueue(admins, keys, live()) : victim;
    if ((kind === 'kill' || kind === 'kill-head') && target) {
      await kill(target);
    } else if (kind === 'shutdown' && victim) {
      // It closes its app once one of its using() sections is inside, and exits when its loops have ended.
      victim.shuttingDown = true;
      // A worker still starting would miss the message: it listens once it is ready.
      void victim.ready.then(() => victim.child.connected && victim.child.send('shutdown'));
      spawn();
    } else if (kind === 'pause' && victim) {
      const from = Date.now();
      victim.child.kill('SIGSTOP');
      await sleep(300 + Math.random() * 1_200);
      victim.child.kill('SIGCONT');
      pauses.push({ worker: victim.id, from, to: Date.now() });
    } else if (kind === 'pubsub' || kind === 'connections') {
      await Promise.all(
        admins.map((admin) => admin.client('KILL', 'TYPE', kind === 'pubsub' ? 'pubsub' : 'normal').catch(() => undefined)),
      );
    } else if (kind === 'pause-redis') {
      // Writes (every lock script, multi-key attempts included) wait, and time out on the workers' side, then run.
      const admin = admins[Math.floor(Math.random() * admins.length)];
      await admin.client('PAUSE', Math.round(300 + Math.random() * 900), 'WRITE').catch(() => undefined);
    } else if (kind === 'freeze-node') {
      const node = servers[Math.floor(Math.random() * servers.length)];
      node.freeze();
      await sleep(200 + Math.random() * 600);
      node.thaw();
    }
  };

  try {
    log(
      `stress: ${mode === 'leader' ? 'leader election, ' : ''}${options.quorum ? 'quorum of 3' : 'one Redis'}, seed ${seed}, ${options.workers ?? 4} workers x ${options.loops ?? 3} loops, ${Math.round(options.duration / 1000)} s, settings ${JSON.stringify(options.settings ?? 'defaults')}`,
    );
    Array.from({ length: options.workers ?? 4 }, spawn);
    await Promise.all(workers.map((worker) => worker.ready));
    const end = Date.now() + options.duration;
    while (Date.now() < end) {
      await sleep(Math.random() * 2 * (options.faultEvery ?? 1_500));
      await inject();
    }
    await stopAll(live());
    await Promise.all(workers.filter((worker) => worker.shuttingDown).map((worker) => endShutdown(worker, violations)));
    servers.forEach((server) => server.thaw());
    violations.push(...(await leftoversAfterSettling(admins)));
    const verdict = await checker.verdict(keys);
    violations.push(...judge(verdict, reports, pauses), ...judgeTerms([...terms.values()], (holder) => killed.has(holder)));
    const clean = reports.filter((report) => report.clean).length;
    if (mode === 'locks' && clean < 20) {
      violations.push(`too little progress to judge: ${clean} clean critical sections`);
    }
    if (mode === 'leader' && terms.size < 10) {
      violations.push(`too little progress to judge: ${terms.size} terms`);
    }
    const stats = {
      acquisitions: reports.filter((report) => report.fence !== undefined).length,
      clean,
      notAcquired: reports.filter((report) => report.fence === undefined).length,
      overlaps: verdict.overlaps.length,
      crowds: verdict.crowds.length,
      lateEntries: verdict.late.length,
      acceptedWrites: verdict.accepted,
      refusedStaleWrites: verdict.refused,
      workersStarted: workers.length,
      shutdownsMidWork,
      terms: terms.size,
      lostTerms: [...terms.values()].filter((term) => term.reason === 'lost').length,
      ...Object.fromEntries(Object.entries(faults).map(([kind, count]) => [`fault:${kind}`, count])),
    };
    log(`stress: ${JSON.stringify(stats)}`);
    return { violations, stats };
  } finally {
    workers.forEach((worker) => worker.child.exitCode === null && worker.child.kill('SIGKILL'));
    await deleteUnder(checkerRedis, checkerPrefix);
    checkerRedis.disconnect();
    admins.forEach((admin) => admin.disconnect());
    await Promise.all(servers.map((server: RedisServer) => server.stop()));
  }
}

/** A worker whose waiter heads one of the keys' queues in Redis (its token names its process), if any does now. */
async function headOfAQueue(admins: Redis[], keys: readonly string[], workers: Worker[]): Promise<Worker | undefined> {
  for (const key of keys) {
    const [head] = await admins[0].zrange(`stress:{${key}}:q`, 0, 0).catch(() => [] as string[]);
    const pid = head === undefined ? undefined : /:(\d+)\//.exec(head)?.[1];
    const worker = workers.find((candidate) => String(candidate.child.pid) === pid);
    if (worker) {
      return worker;
    }
  }
  return undefined;
}

async function stopAll(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            worker.killed = true;
            worker.child.kill('SIGKILL');
          }, 15_000);
          worker.child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          worker.child.send('stop');
        }),
    ),
  );
}

/** Waits for a worker that was asked to shut down to exit by itself (its app closed, its loops ended). */
async function endShutdown(worker: Worker, violations: string[]): Promise<void> {
  const exited = await Promise.race([worker.exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!exited) {
    violations.push(`${worker.id} did not exit within 15 s of its app's shutdown`);
    worker.killed = true;
    worker.child.kill('SIGKILL');
  }
}

/**
 * The leftovers once every lease and wait has ended (SETTLE), asked every 250 ms: Redis is often clean before. Clean
 * is asked once more a second later, for a write a just thawed server may still have had buffered.
 */
async function leftoversAfterSettling(admins: Redis[]): Promise<string[]> {
  const until = Date.now() + SETTLE;
  for (;;) {
    const found = await leftovers(admins);
    if (Date.now() >= until) {
      return found;
    }
    if (found.length === 0) {
      await sleep(1_000);
      return leftovers(admins);
    }
    await sleep(250);
  }
}

/** Lock keys, queues and queue deadlines left behind once every lease and wait has ended: there must be none. */
async function leftovers(admins: Redis[]): Promise<string[]> {
  const found: string[] = [];
  for (const admin of admins) {
    const left = (await admin.keys('stress:*')).filter((key) => !key.endsWith(':fence'));
    if (left.length > 0) {
      found.push(`keys left in Redis after every lease and wait ended: ${left.join(', ')}`);
    }
  }
  return found;
}

/** The invariants, over what the referee recorded and what the workers reported. */
function judge(
  verdict: Awaited<ReturnType<Checker['verdict']>>,
  reports: Array<Extract<StressReport, { type: 'acquisition' }>>,
  pauses: Array<{ worker: string; from: number; to: number }>,
): string[] {
  const violations: string[] = [];
  const clean = new Set(reports.filter((report) => report.clean).map((report) => report.holder));
  for (const { key, inside, entering } of verdict.overlaps) {
    if (inside.fence === entering.fence) {
      violations.push(`two holders of ${key} with one fencing token ${inside.fence}: ${inside.holder}, ${entering.holder}`);
      continue;
    }
    // Whoever has the lower token had lost the lock by then: its release must have found the key taken over.
    const stale = inside.fence < entering.fence ? inside : entering;
    if (clean.has(stale.holder)) {
      violations.push(
        `unfenced double holder of ${key}: ${inside.holder} (${inside.fence}) and ${entering.holder} (${entering.fence}), and ${stale.holder} released it as its own`,
      );
    }
  }
  for (const { key, limit, holders } of verdict.crowds) {
    // More holders inside than permits: all but `limit` of them must have lost theirs.
    const kept = holders.filter((holder) => clean.has(holder.holder));
    if (kept.length > limit) {
      violations.push(
        `more than ${limit} permit holders of ${key} inside at once, released as their own: ${kept.map((h) => `${h.holder} (${h.fence})`).join(', ')}`,
      );
    }
  }
  for (const late of verdict.late) {
    if (clean.has(late.holder)) {
      violations.push(
        `fencing token went down on ${late.key}: ${late.holder} entered with ${late.fence} after ${late.highest}, and released it as its own`,
      );
    }
  }
  for (const report of reports) {
    if (report.waited === undefined || report.waited <= report.bound + WAIT_MARGIN + report.stalled) {
      continue;
    }
    const end = report.started + report.waited;
    const paused = pauses.some((pause) => pause.worker === report.worker && pause.from < end && pause.to > report.started);
    if (!paused) {
      violations.push(
        `${report.holder} waited ${report.waited} ms, bound ${report.bound} ms (+${WAIT_MARGIN} ms margin, +${report.stalled} ms its process did not run)`,
      );
    }
  }
  return violations;
}

async function deleteUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) {
    await redis.del(...keys);
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { FENCED_WRITE } from '../faults/fenced-resource';
import { LeaderWorker, firstLine } from '../processes/leader-workers';
import type { LeaderWorkerConfig } from '../processes/leader.worker';
import { judgeTerms, type TermRecord } from '../stress/leader-terms.referee';
import { LockLostError } from '../../lib';
import { bootLockApp } from '../support/app';
import { changeTo, stall } from '../support/leadership';
import { eventually, REDIS_URL, useTestRedis } from '../support/redis';

describe('leader election across processes', () => {
  const test = useTestRedis('leader-processes');
  const workers: LeaderWorker[] = [];

  const start = (config: Partial<LeaderWorkerConfig> & Pick<LeaderWorkerConfig, 'ttl' | 'retry'>): LeaderWorker => {
    const worker = new LeaderWorker({ redis: REDIS_URL, prefix: test.prefix, name: 'jobs', ...config });
    workers.push(worker);
    return worker;
  };
  const queued = (count: number): Promise<void> =>
    eventually(async () => (await test.redis.zcard(`${test.prefix}{leader:jobs}:q`)) === count, `${count} follower(s) queue`);

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.kill()));
  });

  /** Two workers started together: the one that leads first, and the other, queued behind it. */
  const leaderAndFollower = async (config: Pick<LeaderWorkerConfig, 'ttl' | 'retry'>): Promise<[LeaderWorker, LeaderWorker]> => {
    const pair = [start(config), start(config)];
    const { worker: leader } = await firstLine(
      pair.map((worker): [LeaderWorker, number] => [worker, 0]),
      'elected',
      60_000,
    );
    const follower = pair.find((worker) => worker !== leader) as LeaderWorker;
    await follower.line('ready', 0, 60_000);
    await queued(1);
    return [leader, follower];
  };

  it('hands over within a fraction of a second when the leader closes (SIGTERM with shutdown hooks), to a higher term', async () => {
    // A lease and a round far longer than the hand-over: only the resignation on close can explain it.
    const [leader, follower] = await leaderAndFollower({ ttl: 30_000, retry: 10_000 });
    leader.child.kill('SIGTERM');
    const closing = await leader.line('closing');
    const elected = await follower.line('elected');
    await leader.exited;
    expect(elected.at - closing.at).toBeLessThan(1_000);
    expect(elected.term).toBeGreaterThan(leader.lastElected?.term as number);
    expect(leader.lines.map((line) => line.event)).toEqual(['ready', 'elected', 'closing', 'ended']);
  }, 120_000);

  it('succeeds a SIGKILLed leader within its ttl plus a margin, with a higher term', async () => {
    const ttl = 1_000;
    const [leader, follower] = await leaderAndFollower({ ttl, retry: 300 });
    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    const elected = await follower.line('elected');
    expect(elected.at - killedAt).toBeLessThan(ttl + 700);
    expect(elected.term).toBeGreaterThan(leader.lastElected?.term as number);
  }, 120_000);

  it('is held up by a follower killed at the head of the queue for two of its rounds at most, not for the lease', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix, appName: 'leader' });
    const other = await bootLockApp({ prefix: test.prefix, appName: 'alive' });
    try {
      const leadership = locks.elect('jobs', { ttl: 30_000, retry: 10_000 });
      await changeTo(leadership, true);
      const dead = start({ ttl: 30_000, retry: 1_000, appName: 'dead' });
      await dead.line('ready', 0, 60_000);
      await queued(1);
      const alive = other.locks.elect('jobs', { ttl: 30_000, retry: 300 });
      await queued(2);
      await dead.kill('SIGKILL');
      const resignedAt = performance.now();
      await leadership.resign();
      // The resignation handed the name to the head of the queue: the dead follower.
      expect(await test.redis.get(`${test.prefix}{leader:jobs}`)).toMatch(/^dead@/);
      await changeTo(alive, true, 5_000);
      expect(performance.now() - resignedAt).toBeLessThan(2 * 1_000 + 700);
    } finally {
      await Promise.all([app.close(), other.app.close()]);
    }
  }, 120_000);

  it('a leader that stalls past its ttl says isLeader false at once when it wakes, and its write fenced by its term is refused', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix, appName: 'stalled' });
    const resource = `${test.prefix}resource`;
    try {
      const leadership = locks.elect('jobs', { ttl: 400, retry: 100 });
      await changeTo(leadership, true);
      const term = leadership.term as number;
      const follower = start({ ttl: 400, retry: 100, appName: 'b' });
      await follower.line('ready', 0, 60_000);
      await queued(1);

      stall(2_000);
      const signal = leadership.signal;
      const woke = { isLeader: leadership.isLeader, term: leadership.term };
      expect(woke).toEqual({ isLeader: false, term: undefined });

      // Meanwhile the follower took over and wrote with its own, higher term.
      const elected = await follower.line('elected');
      expect(elected.term).toBeGreaterThan(term);
      expect(await test.redis.eval(FENCED_WRITE, 1, resource, elected.term as number, 'written by the new leader')).toBe(1);
      expect(await test.redis.eval(FENCED_WRITE, 1, resource, term, 'written by the stalled leader')).toBe(0);
      expect(await test.redis.hget(resource, 'value')).toBe('written by the new leader');
      // Once its timers run, its term ends: the signal of that term aborts.
      await eventually(() => signal.aborted, 'the stalled term ends');
      expect(signal.reason).toBeInstanceOf(LockLostError);
    } finally {
      await app.close();
    }
  }, 120_000);

  it('keeps exactly one leader at a time over many terms (resign, close, kill, pause past the ttl), with terms that only go up', async () => {
    // A ttl that a loaded machine's event loop delays do not outlast; the pause below outlasts it anyway.
    const config = { ttl: 2_000, retry: 300 };
    const pool = [start(config), start(config), start(config)];
    await Promise.all(pool.map((worker) => worker.line('ready', 0, 60_000)));
    const killed = new Set<string>();
    let marks = new Map<LeaderWorker, number>();
    const nextLeader = async (): Promise<LeaderWorker> => {
      const candidates = pool.map((candidate): [LeaderWorker, number] => [candidate, marks.get(candidate) ?? 0]);
      return (await firstLine(candidates, 'elected', 30_000)).worker;
    };
    const replace = (gone: LeaderWorker): void => void (pool[pool.indexOf(gone)] = start(config));

    let leader = await nextLeader();
    for (let round = 0; round < 15; round += 1) {
      marks = new Map(pool.map((worker) => [worker, worker.lines.length]));
      const action = round === 6 ? 'kill' : round === 10 ? 'pause' : round % 4 === 1 ? 'close' : 'resign';
      const previous = leader;
      if (action === 'resign') {
        leader.send('resign');
        await leader.line('resigned', marks.get(leader));
        leader.send('elect');
      } else if (action === 'close') {
        leader.child.kill('SIGTERM');
        await leader.exited;
        replace(leader);
      } else if (action === 'kill') {
        killed.add(String(leader.pid));
        await leader.kill('SIGKILL');
        replace(leader);
      } else {
        leader.child.kill('SIGSTOP');
      }
      leader = await nextLeader();
      if (action === 'pause') {
        // The paused leader wakes after another took over, believing it led until now: it finds its term lost.
        await sleep(200);
        previous.child.kill('SIGCONT');
        await previous.line('ended', marks.get(previous), 15_000, (line) => line.reason === 'lost');
      }
    }
    await Promise.all(pool.map((worker) => worker.kill('SIGTERM')));

    const terms = workers.flatMap((worker) => termsOf(worker));
    expect(terms.length).toBeGreaterThanOrEqual(16);
    expect(judgeTerms(terms, (holder) => killed.has(holder))).toEqual([]);
    expect(terms.filter((term) => term.reason === 'lost').length).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('runs a @LeaderOnly @Cron job on one instance per tick across processes, also across a hand-over', async () => {
    const config = { name: 'ticks', ttl: 2_000, retry: 300, job: true };
    const pool = [start(config), start(config), start(config)];
    await Promise.all(pool.map((worker) => worker.line('ready', 0, 60_000)));
    const { worker: first } = await firstLine(
      pool.map((worker): [LeaderWorker, number] => [worker, 0]),
      'elected',
    );
    await sleep(3_000);
    first.child.kill('SIGTERM');
    await first.exited;
    await firstLine(
      pool.filter((worker) => worker !== first).map((worker): [LeaderWorker, number] => [worker, 0]),
      'elected',
    );
    await sleep(3_000);
    const runs = pool.flatMap((worker) => worker.lines.filter((line) => line.event === 'run'));
    const perTick = new Map<number, number[]>();
    for (const run of runs) {
      const tick = Math.floor(run.at / 1_000);
      perTick.set(tick, [...(perTick.get(tick) ?? []), run.pid]);
    }
    expect([...perTick.values()].filter((pids) => pids.length > 1)).toEqual([]);
    expect(perTick.size).toBeGreaterThanOrEqual(4);
    expect(new Set(runs.map((run) => run.pid)).size).toBe(2);
  }, 120_000);
});

/** The terms a worker reported: when each began and, if it said so, how and when it ended. */
function termsOf(worker: LeaderWorker): TermRecord[] {
  return worker.lines
    .filter((line) => line.event === 'elected')
    .map((elected) => {
      const ended = worker.lines.find((line) => line.event === 'ended' && line.term === elected.term);
      return { term: elected.term as number, holder: String(worker.pid), electedAt: elected.at, endedAt: ended?.at, reason: ended?.reason };
    });
}

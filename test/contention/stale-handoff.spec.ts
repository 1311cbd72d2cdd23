import { setTimeout as sleep } from 'node:timers/promises';
import { spawnWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { eventually } from '../support/redis';
import { useRedisServer } from '../support/redis-server';

interface Report {
  at: number;
  fencingToken?: number;
  isHeld?: boolean;
  error?: string;
}

describe('a waiter paused while the lock is handed to it', () => {
  const own = useRedisServer();
  const apps: LockApp[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((booted) => booted.app.close()));
  });

  it('never takes a stale hand-off as held once another process has the lock', async () => {
    const [holderApp, nextApp] = await Promise.all([bootLockApp({ redis: own.server.url }), bootLockApp({ redis: own.server.url })]);
    apps.push(holderApp, nextApp);
    const holder = await holderApp.locks.acquire('stale', { ttl: 30_000 });

    // The paused waiter: queued first, with a 400 ms lease.
    const child = spawnWorker('acquire', [own.server.url, 'lock:', 'stale', '400', '20000', '200']);
    const lines: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const listeners = async (): Promise<number> => Number(((await own.redis.pubsub('NUMSUB', 'lock:{stale}')) as [string, number])[1]);
    await eventually(
      async () => (await own.redis.zcard('lock:{stale}:q')) === 1 && (await listeners()) === 1,
      'the paused waiter is queued and listening',
    );
    const next = nextApp.locks.acquire('stale', { waitTimeout: 20_000 });
    await eventually(
      async () => (await own.redis.zcard('lock:{stale}:q')) === 2 && (await listeners()) === 2,
      'the next waiter is queued and listening',
    );
    // Both are asleep now, waiting for the release.
    await sleep(100);

    child.kill('SIGSTOP');
    // Handed to the paused waiter; its 400 ms lease runs out while it sleeps, and the next waiter takes over.
    await holder.release();
    const taken = await next;
    child.kill('SIGCONT');
    await sleep(1_000);
    const releasedAt = Date.now();
    await taken.release();
    await exited;

    const report = JSON.parse(lines.find((line) => line.startsWith('{')) as string) as Report;
    expect(report.error).toBeUndefined();
    expect(report.at).toBeGreaterThanOrEqual(releasedAt);
    expect(report.fencingToken).toBeGreaterThan(taken.fencingToken);
  }, 30_000);
});

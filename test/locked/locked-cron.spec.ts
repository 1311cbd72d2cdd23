import { Injectable, type INestApplication } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockModule } from '../../lib';
import { spawnWorker } from '../processes/run-worker';
import { eventually, REDIS_URL, useTestRedis } from '../support/redis';

const runs: Array<{ app: string; second: number }> = [];

@Injectable()
class Reports {
  constructor(private readonly appName: string) {}

  @Cron('* * * * * *')
  @Locked('every-second-report', { onBusy: 'skip' })
  async everySecond(): Promise<void> {
    runs.push({ app: this.appName, second: Math.floor(Date.now() / 1000) });
    // A real job does some work; the lock is held while it runs.
    await sleep(150);
  }
}

async function bootInstance(name: string, prefix: string): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false }), ScheduleModule.forRoot()],
    providers: [{ provide: Reports, useFactory: () => new Reports(name) }],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('@Locked with onBusy: skip on a @Cron job in two app instances', () => {
  const test = useTestRedis('locked-cron');

  it('runs each tick exactly once across both instances', async () => {
    const [a, b] = await Promise.all([bootInstance('a', test.prefix), bootInstance('b', test.prefix)]);
    await sleep(4_200);
    await Promise.all([a.close(), b.close()]);
    const seconds = runs.map((run) => run.second);
    expect(seconds.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seconds).size).toBe(seconds.length);
  });
});

describe('a short @Cron job with onBusy: skip in three app processes', () => {
  const test = useTestRedis('locked-cron-processes');

  it('runs exactly once per tick, with no option beyond onBusy: skip', async () => {
    const runs: Array<{ pid: number; at: number }> = [];
    let ready = 0;
    const workers = [0, 1, 2].map(() => spawnWorker('cron-job', [REDIS_URL, test.prefix]));
    for (const worker of workers) {
      worker.stdout?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().trim().split('\n')) {
          if (line === 'ready') {
            ready += 1;
          } else if (line.startsWith('{')) {
            runs.push(JSON.parse(line) as { pid: number; at: number });
          }
        }
      });
    }
    try {
      await eventually(() => ready === 3, 'the three instances are up', 30_000);
      const from = Math.ceil(Date.now() / 1000) + 1;
      await sleep(7_500);
      const to = Math.floor(Date.now() / 1000) - 1;
      const counted = runs.map((run) => Math.floor(run.at / 1000)).filter((second) => second >= from && second <= to);
      const perTick = Array.from({ length: to - from + 1 }, (_, i) => counted.filter((second) => second === from + i).length);
      expect(perTick.length).toBeGreaterThanOrEqual(5);
      expect(perTick).toEqual(perTick.map(() => 1));
    } finally {
      await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve).kill('SIGTERM'))));
    }
  }, 60_000);
});

import { Injectable, type INestApplication } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockModule } from '../../lib';
import { REDIS_URL, useTestRedis } from '../support/redis';

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

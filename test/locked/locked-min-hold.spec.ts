import { Injectable, type INestApplication } from '@nestjs/common';
import { Cron, Interval } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { Locked, LockModule } from '../../lib';
import { REDIS_URL, useTestRedis } from '../support/redis';

// The schedule decorators only leave metadata here (no ScheduleModule): the test calls the jobs itself.
@Injectable()
class Jobs {
  @Cron('*/10 * * * * *')
  @Locked('cron-below', { onBusy: 'skip' })
  async cronWithLockedBelow(): Promise<void> {}

  @Locked('cron-above', { onBusy: 'skip' })
  @Cron('*/10 * * * * *')
  async cronWithLockedAbove(): Promise<void> {}

  @Interval(1_000)
  @Locked('interval', { onBusy: 'skip' })
  async everySecond(): Promise<void> {}

  @Cron('*/10 * * * * *')
  @Locked('cron-no-hold', { onBusy: 'skip', minHold: 0 })
  async cronWithoutHold(): Promise<void> {}

  @Cron('*/10 * * * * *')
  @Locked('cron-throw')
  async cronThatThrowsWhenBusy(): Promise<void> {}

  @Locked('explicit', { minHold: 500 })
  async explicit(): Promise<void> {}
}

describe('@Locked minHold', () => {
  const test = useTestRedis('locked-min-hold');
  let app: INestApplication;
  let jobs: Jobs;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })],
      providers: [Jobs],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    jobs = app.get(Jobs);
  });

  afterEach(async () => {
    await app.close();
  });

  const pttl = (key: string): Promise<number> => test.redis.pttl(`${test.prefix}{${key}}`);

  it.each([
    ['@Cron below @Locked', 'cron-below', 'cronWithLockedBelow', 8_000],
    ['@Cron above @Locked', 'cron-above', 'cronWithLockedAbove', 8_000],
    ['@Interval(1000)', 'interval', 'everySecond', 800],
  ] as const)('keeps a skipping %s job locked for 80%% of its tick after a quick run', async (_name, key, method, hold) => {
    await jobs[method]();
    const left = await pttl(key);
    expect(left).toBeGreaterThan(hold - 300);
    expect(left).toBeLessThanOrEqual(hold);
  });

  it('releases at once with an explicit minHold: 0, and without onBusy: skip', async () => {
    await jobs.cronWithoutHold();
    await jobs.cronThatThrowsWhenBusy();
    expect(await pttl('cron-no-hold')).toBe(-2);
    expect(await pttl('cron-throw')).toBe(-2);
  });

  it('honours an explicit minHold on any method', async () => {
    await jobs.explicit();
    expect(await pttl('explicit')).toBeGreaterThan(300);
  });
});

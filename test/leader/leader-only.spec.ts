import { ConsoleLogger, Controller, Get, Injectable, Logger, SetMetadata, type INestApplicationContext, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { Cron, Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import {
  InvalidLockOptionsError,
  LEADER_ONLY_METADATA,
  LeaderOnly,
  LockError,
  LockModule,
  LockService,
  LOCKED_METADATA,
  Locked,
  type LockModuleOptions,
} from '../../lib';
import { changeTo } from '../support/leadership';
import { eventually, keysUnder, REDIS_URL, useTestRedis } from '../support/redis';

@Injectable()
class Jobs {
  readonly runs: string[] = [];

  @LeaderOnly('jobs', { ttl: 2_000, retry: 100 })
  async sweep(tag: string): Promise<string> {
    this.runs.push(tag);
    return `swept ${tag}`;
  }

  @LeaderOnly('reports')
  async report(): Promise<void> {
    this.runs.push('report');
  }
}

/** Debug lines, by the logger option. */
function debugLogger(lines: string[]): NonNullable<Exclude<LockModuleOptions['logger'], false>> {
  return { log: () => undefined, warn: () => undefined, error: () => undefined, debug: (line: string) => void lines.push(String(line)) };
}

async function bootJobsApp(prefix: string, appName: string, lines: string[] = []): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, appName, logger: debugLogger(lines) })],
    providers: [Jobs],
  }).compile();
  return moduleRef.init();
}

describe('@LeaderOnly', () => {
  const test = useTestRedis('leader-only');
  const contexts: INestApplicationContext[] = [];

  const boot = async (appName: string, lines: string[] = []): Promise<INestApplicationContext> => {
    const context = await bootJobsApp(test.prefix, appName, lines);
    contexts.push(context);
    return context;
  };

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  it('runs the method on the instance that leads and resolves to undefined elsewhere, with a debug line naming the leader', async () => {
    const linesB: string[] = [];
    const a = await boot('a');
    await changeTo(a.get(LockService).elect('jobs'), true);
    const b = await boot('b', linesB);
    await eventually(() => b.get(LockService).elect('jobs').leader?.startsWith('a@') ?? false, 'b sees a lead', 2_000);

    await expect(a.get(Jobs).sweep('on a')).resolves.toBe('swept on a');
    await expect(b.get(Jobs).sweep('on b')).resolves.toBeUndefined();
    expect(a.get(Jobs).runs).toEqual(['on a']);
    expect(b.get(Jobs).runs).toEqual([]);
    expect(linesB).toContainEqual(
      expect.stringMatching(/^Skipped Jobs\.sweep: this instance does not lead "jobs" \(a@[^)]+ leads it\)\.$/),
    );
  });

  it('campaigns from bootstrap for every name its methods use, with the decorator’s options, and resigns on app.close()', async () => {
    const a = await boot('a');
    const locks = a.get(LockService);
    const jobs = locks.elect('jobs');
    const reports = locks.elect('reports');
    await Promise.all([changeTo(jobs, true), changeTo(reports, true)]);
    // The decorator's options are the campaign's: other ones are refused, the same are accepted.
    expect(() => locks.elect('jobs', { ttl: 15_000 })).toThrow(InvalidLockOptionsError);
    expect(locks.elect('jobs', { ttl: 2_000, retry: 100 })).toBe(jobs);
    expect(await test.redis.pttl(`${test.prefix}{leader:jobs}`)).toBeLessThanOrEqual(2_000);
    expect(await test.redis.pttl(`${test.prefix}{leader:reports}`)).toBeGreaterThan(2_000);

    const b = await boot('b');
    const next = b.get(LockService).elect('jobs');
    await eventually(() => next.leader?.startsWith('a@') ?? false, 'b sees a lead', 2_000);
    const term = jobs.term as number;
    const startedAt = performance.now();
    await contexts.splice(0, 1)[0].close();
    await changeTo(next, true, 1_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(next.term).toBeGreaterThan(term);
    await expect(b.get(Jobs).sweep('on b')).resolves.toBe('swept on b');
  });

  it('refuses to start an app whose methods give one name different options', async () => {
    @Injectable()
    class Conflicting {
      @LeaderOnly('jobs', { ttl: 1_000 })
      async one(): Promise<void> {}

      @LeaderOnly('jobs', { ttl: 2_000 })
      async two(): Promise<void> {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })],
      providers: [Conflicting],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    const started = app.init();
    await expect(started).rejects.toThrow(InvalidLockOptionsError);
    await expect(started).rejects.toThrow(
      /@LeaderOnly\("jobs"\) on Conflicting\.one and on Conflicting\.two give the election different options/,
    );
    await app.close();
    expect(await keysUnder(test.redis, test.prefix)).toEqual([]);
  });

  it('rejects with a LockError naming the fix on an instance made with new, and logs it', async () => {
    const lines: string[] = [];
    Logger.overrideLogger({ log: () => undefined, warn: () => undefined, error: (line: unknown) => void lines.push(String(line)) });
    try {
      await expect(new Jobs().sweep('x')).rejects.toThrow(LockError);
      await expect(new Jobs().sweep('x')).rejects.toThrow(/Jobs\.sweep is @LeaderOnly, but this Jobs was not created by Nest/);
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    expect(lines).toEqual([expect.stringMatching(/^LockError: Jobs\.sweep is @LeaderOnly, but this Jobs was not created by Nest/)]);
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'a class',
      () => LeaderOnly('jobs')(class Job {} as never, undefined as never, undefined as never),
      /on class Job: it decorates methods only/,
    ],
    [
      'a property',
      () => LeaderOnly('jobs')({ constructor: { name: 'Job' } }, 'x', undefined as never),
      /on Job\.x: it decorates methods only, not a property/,
    ],
    [
      'a blank name',
      () => LeaderOnly(' ')({ constructor: { name: 'Job' } }, 'run', { value: () => undefined }),
      /@LeaderOnly on Job\.run: name must not be empty/,
    ],
    [
      'a number as the name',
      () => LeaderOnly(7 as never)({ constructor: { name: 'Job' } }, 'run', { value: () => undefined }),
      /name must be a string, got number 7/,
    ],
    [
      'a signal',
      () =>
        LeaderOnly('jobs', { signal: AbortSignal.abort() } as never)({ constructor: { name: 'Job' } }, 'run', { value: () => undefined }),
      /unknown option\(s\) "signal"; allowed: ttl, retry/,
    ],
    [
      'a retry of 5 ms',
      () => LeaderOnly('jobs', { retry: 5 })({ constructor: { name: 'Job' } }, 'run', { value: () => undefined }),
      /@LeaderOnly on Job\.run: retry must be a whole number of ms from 10/,
    ],
  ])('refuses %s with an InvalidLockOptionsError when the class is decorated', (_case, decorate, message) => {
    expect(decorate).toThrow(InvalidLockOptionsError);
    expect(decorate).toThrow(message);
  });
});

const ROLE = 'role';

@Controller('meta')
class LeaderMeta {
  @Get('below')
  @SetMetadata(ROLE, 'admin')
  @LeaderOnly('meta')
  async below(): Promise<string> {
    return 'below';
  }

  @LeaderOnly('meta')
  @SetMetadata(ROLE, 'admin')
  @Get('above')
  async above(): Promise<string> {
    return 'above';
  }

  @Cron('0 0 1 1 *', { name: 'leader-below-cron' })
  @LeaderOnly('meta')
  async cronBelow(): Promise<void> {}

  @LeaderOnly('meta')
  @Interval('leader-above-interval', 3_600_000)
  async intervalAbove(): Promise<void> {}

  @MessagePattern('leader-below')
  @LeaderOnly('meta')
  async rpcBelow(): Promise<void> {}

  @LeaderOnly('meta')
  @Locked('meta-lock')
  async withLockBelow(): Promise<string> {
    return 'locked';
  }

  @Locked('meta-lock')
  @LeaderOnly('meta')
  async withLockAbove(a: number, b: number): Promise<number> {
    return a + b;
  }
}

describe('@LeaderOnly keeps other decorators’ metadata', () => {
  const test = useTestRedis('leader-meta');

  it('keeps routes, SetMetadata, @Cron, @Interval, @MessagePattern and @Locked, the name and length, whichever is applied first', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false }), ScheduleModule.forRoot()],
      controllers: [LeaderMeta],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      await changeTo(app.get(LockService).elect('meta'), true);
      const server = app.getHttpServer() as App;
      await request(server).get('/meta/below').expect(200, 'below');
      await request(server).get('/meta/above').expect(200, 'above');
      const reflector = app.get(Reflector);
      const prototype = LeaderMeta.prototype as unknown as Record<string, Type>;
      expect(reflector.get(ROLE, prototype.below)).toBe('admin');
      expect(reflector.get(ROLE, prototype.above)).toBe('admin');
      const registry = app.get(SchedulerRegistry);
      expect(registry.getCronJob('leader-below-cron')).toBeDefined();
      expect(registry.getInterval('leader-above-interval')).toBeDefined();
      expect(Reflect.getMetadata(PATTERN_METADATA, prototype.rpcBelow)).toEqual(['leader-below']);
      expect(Reflect.getMetadata(LOCKED_METADATA, prototype.withLockBelow)).toBeDefined();
      expect(Reflect.getMetadata(LEADER_ONLY_METADATA, prototype.withLockAbove)).toMatchObject({ name: 'meta' });
      expect(prototype.withLockAbove.name).toBe('withLockAbove');
      expect(prototype.withLockAbove.length).toBe(2);
      const controller = app.get(LeaderMeta);
      await expect(controller.withLockBelow()).resolves.toBe('locked');
      await expect(controller.withLockAbove(2, 3)).resolves.toBe(5);
    } finally {
      await app.close();
    }
  });
});

import { ConsoleLogger, Controller, Headers, Injectable, Logger, Post, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, LockModule, LockService, UseLock, type LockModuleOptions } from '../../lib';
import { DEAD_REDIS_URL, deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix, waitUntil } from '../support/redis';

type Line = [level: string, message: string, context: unknown];

/** A LoggerService that keeps every line, with its context (Nest's last parameter; `error` has a stack before it). */
function captureLogger(lines: Line[]): LoggerService {
  const keep =
    (level: string) =>
    (message: unknown, ...params: unknown[]): void =>
      void lines.push([level, String(message), params.at(-1)]);
  return { log: keep('log'), warn: keep('warn'), error: keep('error'), debug: keep('debug') };
}

@Injectable()
class Reports {
  @Locked('report:{0.id}')
  async build(_order: { id?: string }): Promise<string> {
    return 'built';
  }
}

@Controller()
class FailingController {
  constructor(private readonly reports: Reports) {}

  @Post('tenant')
  @UseLock('tenant:{headers.x-tenant-id}')
  tenant(@Headers('x-tenant-id') tenant: string): string {
    return tenant;
  }

  @Post('report')
  report(): Promise<string> {
    return this.reports.build({});
  }

  @Post('busy')
  @UseLock('busy', { waitTimeout: 0 })
  busy(): string {
    return 'ran';
  }

  @Post('new-made')
  newMade(): Promise<string> {
    return new Reports().build({ id: '1' });
  }
}

async function boot(lines: Line[], options: LockModuleOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ redis: REDIS_URL, logger: captureLogger(lines), ...options })],
    controllers: [FailingController],
    providers: [Reports],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('failures reach the server log', () => {
  const redis = redisClient();
  const prefix = uniquePrefix('failure-log');
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('logs a key that cannot be built from the request once, as an error naming the placeholder', async () => {
    const lines: Line[] = [];
    app = await boot(lines, { prefix });
    const response = await request(app.getHttpServer()).post('/tenant');
    expect(response.status).toBe(500);
    expect(lines.filter(([level]) => level === 'error')).toEqual([
      [
        'error',
        expect.stringMatching(
          /InvalidLockOptionsError: @UseLock on FailingController\.tenant: placeholder \{headers\.x-tenant-id\} is undefined/,
        ),
        'LockService',
      ],
    ]);
  });

  it('logs a @Locked key that cannot be built from the arguments, as an error', async () => {
    const lines: Line[] = [];
    app = await boot(lines, { prefix });
    expect((await request(app.getHttpServer()).post('/report')).status).toBe(500);
    expect(lines).toContainEqual([
      'error',
      expect.stringMatching(/@Locked on Reports\.build: placeholder \{0\.id\} is undefined/),
      'LockService',
    ]);
  });

  it('logs an unreachable store once for ten failing requests, with the key, and counts the rest', async () => {
    const lines: Line[] = [];
    app = await boot(lines, { prefix, redis: DEAD_REDIS_URL, commandTimeout: 100, waitTimeout: 200 });
    const statuses = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await request(app.getHttpServer()).post('/busy')).status);
    }
    expect(statuses).toEqual(Array(10).fill(503));
    const errors = lines.filter(([level]) => level === 'error');
    expect(errors).toEqual([['error', expect.stringMatching(/^LockStoreUnavailableError: .*"busy"/), 'LockService']]);
  });

  it('keeps a busy lock (409) out of the error log: one debug line', async () => {
    const lines: Line[] = [];
    app = await boot(lines, { prefix });
    const held = await app.get(LockService).acquire('busy');
    const response = await request(app.getHttpServer()).post('/busy');
    await held.release();
    expect(response.status).toBe(409);
    expect(lines.filter(([level]) => level !== 'debug')).toEqual([]);
    expect(lines).toContainEqual(['debug', expect.stringMatching(/"busy" was not acquired/), 'LockService']);
  });

  it('logs a @Locked method called on an instance made with new through Nest’s Logger', async () => {
    const calls: unknown[][] = [];
    app = await boot([], { prefix });
    Logger.overrideLogger(captureLogger(calls as Line[]));
    try {
      expect((await request(app.getHttpServer()).post('/new-made')).status).toBe(500);
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    expect(calls).toContainEqual([
      'error',
      expect.stringMatching(/Reports\.build is @Locked, but this Reports was not created by Nest/),
      'Locked',
    ]);
  });

  it('is silent about failures with logger: false', async () => {
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [FailingController],
      providers: [Reports],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await request(app.getHttpServer()).post('/tenant');
    await waitUntil(async () => true);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});

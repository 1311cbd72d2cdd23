import { Controller, Injectable, Param, Post, type INestApplication, type LoggerService } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { InvalidLockOptionsError, Locked, LockModule, LockNotAcquiredError, LockService, UseLock, type LockModuleOptions } from '../../lib';
import { bootHttpApp, HTTP_PLATFORMS } from '../support/app';
import { RecordingFilter } from '../support/recording-filter';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

/** What a client is told when a lock stays busy, unless `errorMessage` says otherwise. */
const BUSY_ANSWER = { statusCode: 409, message: 'The resource is busy; try again later.', error: 'Conflict' };

@Injectable()
class Ledger {
  @Locked('ledger:{0}', { waitTimeout: 0, errorMessage: 'The ledger of this account is being updated.' })
  async post(id: string): Promise<string> {
    return id;
  }
}

@Controller('accounts')
class AccountsController {
  constructor(private readonly ledger: Ledger) {}

  @Post(':id/pay')
  @Locked('account:{0}', { waitTimeout: 0 })
  async pay(@Param('id') id: string): Promise<string> {
    return id;
  }

  @Post(':id/refund')
  @Locked('refund:{0}', { waitTimeout: 0, errorMessage: 'A refund of this account is in progress.' })
  async refund(@Param('id') id: string): Promise<string> {
    return id;
  }

  @Post(':id/close')
  @UseLock('close:{params.id}', { waitTimeout: 0, errorMessage: (error) => `Closing is busy (${error.keys.length} lock).` })
  close(@Param('id') id: string): string {
    return id;
  }

  @Post(':id/book')
  @UseLock('book:{params.id}', { waitTimeout: 0, errorMessage: 'A booking is in progress.' })
  book(@Param('id') id: string): Promise<string> {
    return this.ledger.post(id);
  }

  @Post(':id/broken')
  @Locked('broken:{0}', { waitTimeout: 0, errorMessage: () => '' })
  async broken(@Param('id') id: string): Promise<string> {
    return id;
  }
}

describe.each(HTTP_PLATFORMS)('the answer to a client when the lock stays busy (%s)', (_platform, createAdapter) => {
  let redis: Redis;
  let prefix: string;
  let app: INestApplication | undefined;

  async function boot(options: LockModuleOptions = {}): Promise<{ app: INestApplication; locks: LockService }> {
    prefix = uniquePrefix('busy-answer');
    app = await bootHttpApp(
      {
        imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false, ...options })],
        controllers: [AccountsController],
        providers: [Ledger, { provide: APP_FILTER, useClass: RecordingFilter }],
      },
      createAdapter,
    );
    return { app, locks: app.get(LockService) };
  }

  /** Holds `key` as another instance would, and makes the request. */
  async function busyAnswer(locks: LockService, key: string, path: string): Promise<request.Response> {
    const held = await locks.acquire(key);
    try {
      return await request((app as INestApplication).getHttpServer()).post(path);
    } finally {
      await held.release();
    }
  }

  beforeAll(() => {
    redis = redisClient();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await deleteKeysUnder(redis, prefix);
    RecordingFilter.seen.length = 0;
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('says the resource is busy and to try again: no key, no prefix, no advice about options', async () => {
    const { locks } = await boot();
    const response = await busyAnswer(locks, 'account:42', '/accounts/42/pay');
    expect(response.status).toBe(409);
    expect(response.body).toEqual(BUSY_ANSWER);
    expect(response.text).not.toMatch(/account|42|busy-answer|waitTimeout|tryAcquire|onBusy/);
  });

  it('keeps the keys and the developer’s message on the error the code (and an exception filter) sees', async () => {
    const { locks } = await boot();
    await busyAnswer(locks, 'account:7', '/accounts/7/pay');
    const [error] = RecordingFilter.seen as LockNotAcquiredError[];
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    expect(error.keys).toEqual(['account:7']);
    expect(error.message).toMatch(/Lock "account:7" was not acquired: it stayed busy for \d+ ms\. Raise waitTimeout/);
    expect(error.clientMessage).toBe(BUSY_ANSWER.message);
    const held = await locks.acquire('account:8');
    const thrown = await locks.acquire('account:8', { waitTimeout: 0 }).catch((caught: unknown) => caught);
    await held.release();
    expect(thrown).toBeInstanceOf(LockNotAcquiredError);
    expect((thrown as LockNotAcquiredError).message).toMatch(/"account:8"/);
    expect((thrown as LockNotAcquiredError).getResponse()).toEqual(BUSY_ANSWER);
  });

  it('answers with the module’s errorMessage, a string or a function of the error', async () => {
    const { locks } = await boot({ errorMessage: 'Busy, retry in a second.' });
    expect((await busyAnswer(locks, 'account:1', '/accounts/1/pay')).body).toEqual({ ...BUSY_ANSWER, message: 'Busy, retry in a second.' });
    await app?.close();
    const second = await boot({ errorMessage: (error) => `Busy (${error.keys.length} key).` });
    expect((await busyAnswer(second.locks, 'account:1', '/accounts/1/pay')).body.message).toBe('Busy (1 key).');
  });

  it('answers with the decorator’s errorMessage over the module’s, on @Locked and on @UseLock', async () => {
    const { locks } = await boot({ errorMessage: 'Module says busy.' });
    expect((await busyAnswer(locks, 'refund:1', '/accounts/1/refund')).body).toEqual({
      ...BUSY_ANSWER,
      message: 'A refund of this account is in progress.',
    });
    expect((await busyAnswer(locks, 'close:1', '/accounts/1/close')).body.message).toBe('Closing is busy (1 lock).');
    expect((await busyAnswer(locks, 'account:1', '/accounts/1/pay')).body.message).toBe('Module says busy.');
  });

  it('answers with the errorMessage of the decorator whose lock was busy, not of one around it', async () => {
    const { locks } = await boot();
    expect((await busyAnswer(locks, 'ledger:3', '/accounts/3/book')).body.message).toBe('The ledger of this account is being updated.');
    expect((await busyAnswer(locks, 'book:3', '/accounts/3/book')).body.message).toBe('A booking is in progress.');
  });

  it('answers 500, and logs why, when an errorMessage function gives no text', async () => {
    const lines: string[] = [];
    const logger: LoggerService = { log: () => undefined, warn: () => undefined, error: (message: string) => void lines.push(message) };
    const { locks } = await boot({ logger });
    const response = await busyAnswer(locks, 'broken:1', '/accounts/1/broken');
    expect(response.status).toBe(500);
    expect(lines).toEqual([expect.stringMatching(/InvalidLockOptionsError: .*errorMessage.*returned "" for lock "broken:1"/)]);
  });
});

describe('errorMessage, checked where it is given', () => {
  it('refuses anything but a non-empty string or a function, naming where', () => {
    expect(() => LockModule.forRoot({ errorMessage: '' })).toThrow(
      /LockModule options: errorMessage must be a non-empty string or a function/,
    );
    const decorate = (errorMessage: unknown): void => {
      class Jobs {
        @Locked('k', { errorMessage: errorMessage as string })
        async run(): Promise<void> {}
      }
      void Jobs;
    };
    expect(() => decorate(' ')).toThrow(/@Locked on Jobs.run: errorMessage must be a non-empty string or a function .*, got " "/);
    expect(() => decorate(42)).toThrow(InvalidLockOptionsError);
    expect(() => UseLock('k', { errorMessage: null as unknown as string })(class Payments {})).toThrow(
      /@UseLock on Payments: errorMessage must be a non-empty string or a function/,
    );
  });
});

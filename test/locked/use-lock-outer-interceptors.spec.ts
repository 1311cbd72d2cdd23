import {
  Controller,
  Injectable,
  Param,
  Post,
  Sse,
  RequestTimeoutException,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { catchError, filter, firstValueFrom, NEVER, retry, throwError, timeout, TimeoutError, Observable, Subject } from 'rxjs';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { LockError, LockInterceptor, LockModule, LockService, UseLock } from '../../lib';
import { bootHttpApp, bootLockApp, HTTP_PLATFORMS, type LockApp } from '../support/app';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

/** Tries the rest of the pipeline once more when it fails. */
@Injectable()
class RetryInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(retry(1));
  }
}

/** The TimeoutInterceptor of Nest's documentation, with a short timeout. */
@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout(100),
      catchError((error: unknown) => throwError(() => (error instanceof TimeoutError ? new RequestTimeoutException() : error))),
    );
  }
}

/** What a handler attempt saw of its lock. */
interface Attempt {
  key: string | undefined;
  held: boolean | undefined;
  /** Whether another instance could take the key while this attempt ran. */
  takenByOther: boolean;
}

/** A second app on the same Redis and prefix: "another instance". */
const other: { instance?: LockApp } = {};

@Controller('retried')
class RetriedController {
  readonly attempts: Attempt[] = [];

  constructor(private readonly locks: LockService) {}

  @Post(':id')
  @UseLock('retried:{params.id}', { waitTimeout: 0 })
  async run(@Param('id') id: string): Promise<Attempt[]> {
    const lock = this.locks.current();
    const taken = await (other.instance as LockApp).locks.tryAcquire(`retried:${id}`);
    await taken?.release();
    this.attempts.push({ key: lock?.keys[0], held: lock?.isHeld, takenByOther: taken !== null });
    if (this.attempts.length === 1) {
      throw new Error('first attempt fails');
    }
    return this.attempts;
  }
}

describe.each([
  ['@UseLock under a retry registered with useGlobalInterceptors', false],
  ['@UseLock and a global LockInterceptor, both under a retry registered as APP_INTERCEPTOR', true],
])('%s', (_name, globalLock) => {
  const redis = redisClient();
  const prefix = uniquePrefix('use-lock-retry');
  let app: INestApplication;

  beforeAll(async () => {
    other.instance = await bootLockApp({ prefix });
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [RetriedController],
      // Global interceptors run in the order they are provided: the retry around the global LockInterceptor.
      providers: globalLock
        ? [
            { provide: APP_INTERCEPTOR, useClass: RetryInterceptor },
            { provide: APP_INTERCEPTOR, useClass: LockInterceptor },
          ]
        : [],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    if (!globalLock) {
      app.useGlobalInterceptors(new RetryInterceptor());
    }
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await other.instance?.app.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('takes the lock again for the second attempt: held inside it, and no other instance can take the key', async () => {
    const events: string[] = [];
    const subscription = app.get(LockService).events.subscribe((event) => events.push(event.type));
    const response = await request(app.getHttpServer()).post('/retried/1');
    subscription.unsubscribe();
    expect(response.status).toBe(201);
    expect(response.body).toEqual([
      { key: 'retried:1', held: true, takenByOther: false },
      { key: 'retried:1', held: true, takenByOther: false },
    ]);
    expect(events.filter((type) => type === 'acquired')).toHaveLength(2);
  });
});

/** Opens when the test says: the first handler waits on it, so that the timeout surely fires while it runs. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

@Controller('slow')
class SlowController {
  inside = 0;
  mostInside = 0;
  readonly signals: AbortSignal[] = [];
  release = gate();

  constructor(private readonly locks: LockService) {}

  // Observable is imported as a value: TypeScript records the declared return type only then.
  @Post(':id/stream')
  @UseLock('slow:{params.id}:stream', { waitTimeout: 0 })
  stream(): Observable<string> {
    this.signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    return NEVER;
  }

  @Post(':id')
  @UseLock('slow:{params.id}', { waitTimeout: 0 })
  async run(): Promise<string> {
    this.inside += 1;
    this.mostInside = Math.max(this.mostInside, this.inside);
    this.signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    try {
      await this.release.wait;
      return 'done';
    } finally {
      this.inside -= 1;
    }
  }
}

describe.each(HTTP_PLATFORMS)('@UseLock under a TimeoutInterceptor (%s)', (_platform, createAdapter) => {
  const redis = redisClient();
  const prefix = uniquePrefix('use-lock-timeout');
  let app: INestApplication;
  let locks: LockService;
  let slow: SlowController;

  beforeAll(async () => {
    app = await bootHttpApp(
      {
        imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
        controllers: [SlowController],
        providers: [{ provide: APP_INTERCEPTOR, useClass: TimeoutInterceptor }],
      },
      createAdapter,
    );
    locks = app.get(LockService);
    slow = app.get(SlowController);
  });

  afterAll(async () => {
    slow.release.open();
    await app.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('aborts the timed-out handler’s signal and holds the key until it returns: a second request never runs beside it', async () => {
    const timedOut = await request(app.getHttpServer()).post('/slow/1');
    expect(timedOut.status).toBe(408);
    expect(slow.inside).toBe(1);

    const retried = await request(app.getHttpServer()).post('/slow/1');
    expect(retried.status).toBe(409);
    expect(slow.mostInside).toBe(1);
    expect(await locks.isLocked('slow:1')).toBe(true);
    expect(slow.signals[0].aborted).toBe(true);
    expect(slow.signals[0].reason).toBeInstanceOf(LockError);
    expect((slow.signals[0].reason as Error).message).toMatch(/unsubscribed/);

    const released = firstValueFrom(locks.events.pipe(filter((event) => event.type === 'released' && event.keys[0] === 'slow:1')));
    slow.release.open();
    await released;
    expect(slow.inside).toBe(0);
    const after = await request(app.getHttpServer()).post('/slow/1');
    expect(after.status).toBe(201);
    expect(slow.mostInside).toBe(1);
    expect(slow.signals).toHaveLength(2);
    expect(slow.signals[1].aborted).toBe(false);
  });

  it('releases the lock of a handler declared to return an Observable at once: the unsubscription stopped its stream', async () => {
    slow.signals.length = 0;
    const released = firstValueFrom(locks.events.pipe(filter((event) => event.type === 'released' && event.keys[0] === 'slow:2:stream')));
    const timedOut = await request(app.getHttpServer()).post('/slow/2/stream');
    expect(timedOut.status).toBe(408);
    await released;
    expect(slow.signals[0].aborted).toBe(false);
  });
});

@Controller('events')
class EventsController {
  // No declared return type: @Sse() alone says that it streams.
  @Sse(':id')
  @UseLock('events:{params.id}')
  events() {
    return NEVER;
  }
}

describe('@UseLock on an @Sse() handler whose client goes away', () => {
  const redis = redisClient();
  const prefix = uniquePrefix('use-lock-sse');
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [EventsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('releases the lock at once: the unsubscription stopped the stream', async () => {
    const locks = app.get(LockService);
    const of = (type: string) => firstValueFrom(locks.events.pipe(filter((event) => event.type === type && event.keys[0] === 'events:1')));
    const acquired = of('acquired');
    const released = of('released');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const client = get({ host: '127.0.0.1', port, path: '/events/1' });
    const answered = new Promise((resolve) => client.once('response', resolve));
    await Promise.all([acquired, answered]);
    client.destroy();
    await released;
    expect(await locks.isLocked('events:1')).toBe(false);
  });
});

const pollEvents = new Subject<string>();
const signals: AbortSignal[] = [];

@Controller('poll')
class PollController {
  constructor(private readonly locks: LockService) {}

  // A long poll, no return type written (TypeScript infers Observable<string>, records nothing useful).
  @Post('untyped')
  @UseLock('poll:untyped', { waitTimeout: 0, ttl: 300 })
  untyped() {
    signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    return pollEvents.asObservable();
  }

  @Post('union')
  @UseLock('poll:union', { waitTimeout: 0, ttl: 300 })
  union(): Observable<string> | undefined {
    signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    return pollEvents.asObservable();
  }
}

describe.each(HTTP_PLATFORMS.slice(0, 1))(
  '@UseLock on a long poll with no Observable return type, under a timeout (%s)',
  (_p, createAdapter) => {
    const redis = redisClient();
    const prefix = uniquePrefix('undeclared-stream');
    let app: INestApplication;
    let locks: LockService;

    beforeAll(async () => {
      app = await bootHttpApp(
        {
          imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false, shutdownTimeout: 500 })],
          controllers: [PollController],
          providers: [{ provide: APP_INTERCEPTOR, useClass: TimeoutInterceptor }],
        },
        createAdapter,
      );
      locks = app.get(LockService);
    });

    afterAll(async () => {
      await app.close();
      await deleteKeysUnder(redis, prefix);
      await redis.quit();
    });

    it.each(['untyped', 'union'])('%s: a timed-out stream that never answers is told, then let go of after one ttl', async (name) => {
      const r = await request(app.getHttpServer()).post(`/poll/${name}`);
      expect(r.status).toBe(408);
      const signal = signals[signals.length - 1];
      expect(signal.aborted).toBe(true);
      // Taken for a Promise (no Observable return type recorded), it was kept: for one ttl (300 ms), not for ever.
      await new Promise((resolve) => setTimeout(resolve, 1500));

      expect(await locks.isLocked(`poll:${name}`)).toBe(false);
      const again = await request(app.getHttpServer()).post(`/poll/${name}`);
      expect(again.status).toBe(408); // not 409
    });
  },
);

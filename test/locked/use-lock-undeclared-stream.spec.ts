import {
  Controller,
  Injectable,
  Post,
  RequestTimeoutException,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { catchError, throwError, timeout, TimeoutError, Observable, Subject } from 'rxjs';
import request from 'supertest';
import { LockModule, LockService, UseLock } from '../../lib';
import { bootHttpApp, HTTP_PLATFORMS } from '../support/app';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';

@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout(100),
      catchError((error: unknown) => throwError(() => (error instanceof TimeoutError ? new RequestTimeoutException() : error))),
    );
  }
}

const events = new Subject<string>();
const signals: AbortSignal[] = [];

@Controller('poll')
class PollController {
  constructor(private readonly locks: LockService) {}

  // A long poll, no return type written (TypeScript infers Observable<string>, records nothing useful).
  @Post('untyped')
  @UseLock('poll:untyped', { waitTimeout: 0, ttl: 300 })
  untyped() {
    signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    return events.asObservable();
  }

  @Post('union')
  @UseLock('poll:union', { waitTimeout: 0, ttl: 300 })
  union(): Observable<string> | undefined {
    signals.push((this.locks.current() as { signal: AbortSignal }).signal);
    return events.asObservable();
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

import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  Controller,
  Get,
  Injectable,
  Param,
  ParseIntPipe,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER, BaseExceptionFilter } from '@nestjs/core';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { Locked, LockModule, LockNotAcquiredError, LockService } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix, waitUntil } from '../support/redis';
import { bootHttpApp, HTTP_PLATFORMS } from '../support/app';

const seenByFilter: string[] = [];

@Catch(LockNotAcquiredError)
class LockBusyFilter extends BaseExceptionFilter {
  override catch(exception: LockNotAcquiredError, host: ArgumentsHost): void {
    seenByFilter.push(exception.name);
    super.catch(exception, host);
  }
}

@Injectable()
class Counter {
  constructor(readonly redis: Redis) {}
}

@Controller('orders')
class OrdersController {
  constructor(
    private readonly counter: Counter,
    private readonly locks: LockService,
  ) {}

  @Post(':id/increment')
  @Locked('counter:{0}')
  async increment(@Param('id', ParseIntPipe) id: number): Promise<{ key: string | undefined; type: string }> {
    const key = `${counterKeyPrefix}${id}`;
    const value = Number((await this.counter.redis.get(key)) ?? '0');
    await new Promise((resolve) => setTimeout(resolve, 2));
    await this.counter.redis.set(key, String(value + 1));
    return { key: this.locks.current()?.keys[0], type: typeof id };
  }

  @Locked('hold:{0}')
  @Post(':id/hold')
  async hold(@Param('id') id: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return id;
  }

  @Post(':id/busy')
  @Locked('hold:{0}', { waitTimeout: 0 })
  async busy(@Param('id') id: string): Promise<string> {
    return id;
  }

  @Get(':id/invalid')
  @Locked('invalid:{0}')
  async invalid(@Param('id') id: string): Promise<string> {
    throw new BadRequestException(`order ${id} is invalid`);
  }
}

let counterKeyPrefix = '';

describe.each(HTTP_PLATFORMS)('@Locked on a controller (%s)', (_platform, createAdapter) => {
  let redis: Redis;
  let prefix: string;
  let app: INestApplication;
  let locks: LockService;

  beforeAll(async () => {
    redis = redisClient();
    prefix = uniquePrefix('locked-http');
    counterKeyPrefix = `${prefix}counter-value:`;
    app = await bootHttpApp(
      {
        imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false, waitTimeout: 5_000 })],
        controllers: [OrdersController],
        providers: [
          { provide: Counter, useFactory: () => new Counter(redis) },
          { provide: APP_FILTER, useClass: LockBusyFilter },
        ],
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

  it('serialises 20 concurrent requests doing a non-atomic read-modify-write: the count is exact', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => request(app.getHttpServer()).post('/orders/5/increment')));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(await redis.get(`${counterKeyPrefix}5`)).toBe('20');
  });

  it('builds the key from the argument the handler receives after pipes', async () => {
    const response = await request(app.getHttpServer()).post('/orders/6/increment');
    expect(response.body).toEqual({ key: 'counter:6', type: 'number' });
  });

  it('answers 409 Conflict with Nest’s JSON body when the lock is busy, through the user’s exception filter', async () => {
    seenByFilter.length = 0;
    const holding = request(app.getHttpServer()).post('/orders/1/hold');
    const first = holding.then((response) => response);
    await waitUntil(() => locks.isLocked('hold:1'));
    const busy = await request(app.getHttpServer()).post('/orders/1/busy');
    expect(busy.status).toBe(409);
    expect(busy.body).toEqual({ statusCode: 409, message: 'The resource is busy; try again later.', error: 'Conflict' });
    expect(seenByFilter).toEqual(['LockNotAcquiredError']);
    expect((await first).status).toBe(201);
  });

  it('passes the handler’s own HttpException through (400) and frees the lock', async () => {
    const response = await request(app.getHttpServer()).get('/orders/3/invalid');
    expect(response.status).toBe(400);
    expect(response.body.message).toBe('order 3 is invalid');
    expect(await locks.isLocked('invalid:3')).toBe(false);
  });

  it('keeps routes registered in both decorator orders', async () => {
    expect((await request(app.getHttpServer()).post('/orders/2/hold')).text).toBe('2');
    expect((await request(app.getHttpServer()).post('/orders/2/busy')).text).toBe('2');
  });
});

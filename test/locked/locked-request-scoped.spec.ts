import { Controller, Injectable, Param, Post, Scope, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, LockModule, LockService } from '../../lib';
import { REDIS_URL, useTestRedis } from '../support/redis';

@Injectable({ scope: Scope.REQUEST })
class RequestScopedCart {
  constructor(private readonly locks: LockService) {}

  @Locked('cart:{0}', { waitTimeout: 0 })
  async checkout(_id: string): Promise<string | undefined> {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return this.locks.current()?.keys[0];
  }
}

@Controller('carts')
class CartsController {
  constructor(private readonly cart: RequestScopedCart) {}

  @Post(':id/checkout')
  checkout(@Param('id') id: string) {
    return this.cart.checkout(id);
  }
}

describe('@Locked on a request-scoped provider', () => {
  const test = useTestRedis('request-scoped');
  let app: INestApplication;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })],
      controllers: [CartsController],
      providers: [RequestScopedCart],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterEach(async () => {
    await app.close();
  });

  it('locks across requests although every request gets a new instance', async () => {
    const [first, second] = await Promise.all([
      request(app.getHttpServer()).post('/carts/9/checkout'),
      new Promise((resolve) => setTimeout(resolve, 50)).then(() => request(app.getHttpServer()).post('/carts/9/checkout')),
    ]);
    expect(first.status).toBe(201);
    expect(first.text).toBe('cart:9');
    expect(second.status).toBe(409);
  });
});

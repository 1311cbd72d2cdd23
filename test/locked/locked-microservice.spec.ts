import { Controller, Injectable } from '@nestjs/common';
import { MessagePattern, type ClientProxy } from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import { firstValueFrom, interval, map, Observable, take, toArray } from 'rxjs';
import { Locked, LockModule, LockService } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';
import { startTcpMicroservice, type TcpMicroservice } from '../support/tcp-microservice';

@Injectable()
class CounterStore {
  key = '';
  constructor(readonly redis: Redis) {}
}

@Controller()
class CounterHandler {
  constructor(
    private readonly store: CounterStore,
    private readonly locks: LockService,
  ) {}

  @MessagePattern('increment')
  @Locked('rpc-counter')
  async increment(): Promise<number> {
    const value = Number((await this.store.redis.get(this.store.key)) ?? '0');
    await new Promise((resolve) => setTimeout(resolve, 2));
    await this.store.redis.set(this.store.key, String(value + 1));
    return value + 1;
  }

  @Locked('rpc-stream')
  @MessagePattern('stream')
  stream(): Observable<boolean> {
    return interval(20).pipe(
      take(3),
      map(() => this.locks.current('rpc-stream') !== undefined),
    );
  }
}

describe('@Locked on a TCP microservice handler', () => {
  let redis: Redis;
  let prefix: string;
  let microservice: TcpMicroservice;
  let client: ClientProxy;

  beforeAll(async () => {
    redis = redisClient();
    prefix = uniquePrefix('locked-rpc');
    const store = new CounterStore(redis);
    store.key = `${prefix}rpc-counter-value`;
    microservice = await startTcpMicroservice({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [CounterHandler],
      providers: [{ provide: CounterStore, useValue: store }],
    });
    client = microservice.client;
  });

  afterAll(async () => {
    await microservice.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('serialises concurrent messages doing a non-atomic read-modify-write: the count is exact', async () => {
    const replies = await Promise.all(Array.from({ length: 15 }, () => firstValueFrom(client.send<number>('increment', {}))));
    expect([...replies].sort((x, y) => x - y)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(await redis.get(`${prefix}rpc-counter-value`)).toBe('15');
  });

  it('holds the lock while a streamed reply runs', async () => {
    const replies = await firstValueFrom(client.send<boolean>('stream', {}).pipe(toArray()));
    expect(replies).toEqual([true, true, true]);
  });
});

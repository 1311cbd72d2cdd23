import { Controller, Injectable, Param, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import request from 'supertest';
import { Locked, LockModule, LockService, LockStoreUnavailableError, RedisLockStore, type LockModuleOptions } from '../../lib';
import { connectNodeRedis, describeForeignClient } from '../support/foreign-clients';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix, useTestRedis } from '../support/redis';
import { startRedisCluster, type RedisClusterFixture } from '../support/redis-server';

@Injectable()
class Tickets {
  sold = 0;

  @Locked('event:{0}', { waitTimeout: 5_000 })
  async buy(_event: string): Promise<number> {
    const seen = this.sold;
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.sold = seen + 1;
    return this.sold;
  }
}

@Controller('tickets')
class TicketsController {
  constructor(private readonly tickets: Tickets) {}

  @Post(':event/hold')
  @Locked('hold:{0}', { waitTimeout: 0 })
  async hold(@Param('event') event: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return event;
  }

  @Post(':event/buy')
  buy(@Param('event') event: string): Promise<number> {
    return this.tickets.buy(event);
  }
}

async function bootApp(options: LockModuleOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ logger: false, ...options })],
    controllers: [TicketsController],
    providers: [Tickets],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('a node-redis client passed as redis', () => {
  const prefix = uniquePrefix('node-redis-e2e');
  const clients: RedisClientType[] = [];
  const apps: INestApplication[] = [];

  async function connected(url = REDIS_URL, owner = clients): Promise<RedisClientType> {
    const client: RedisClientType = createClient({ url });
    client.on('error', () => undefined);
    await client.connect();
    owner.push(client);
    return client;
  }

  async function app(options: LockModuleOptions = {}): Promise<INestApplication> {
    const booted = await bootApp({ redis: await connected(), prefix, ...options });
    apps.push(booted);
    return booted;
  }

  afterAll(async () => {
    await Promise.all(apps.map((booted) => booted.close()));
    const cleaner = redisClient();
    await deleteKeysUnder(cleaner, prefix);
    await cleaner.quit();
    // The app closes nothing it was given: the clients are still open, and closed by their owner.
    expect(clients.every((client) => client.isOpen)).toBe(true);
    await Promise.all(clients.map((client) => client.quit()));
  });

  it('serves @Locked routes: 409 while busy, and the counts stay exact across two apps', async () => {
    const [one, two] = [await app(), await app()];
    const holding = request(one.getHttpServer())
      .post('/tickets/a/hold')
      .then((response) => response);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await request(two.getHttpServer()).post('/tickets/a/hold')).status).toBe(409);
    expect((await holding).status).toBe(201);

    const tickets = [one.get(Tickets), two.get(Tickets)];
    const shared = { sold: 0 };
    for (const service of tickets) {
      Object.defineProperty(service, 'sold', { get: () => shared.sold, set: (value: number) => (shared.sold = value) });
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => request((i % 2 ? one : two).getHttpServer()).post('/tickets/b/buy')));
    expect(shared.sold).toBe(20);
  });
});

describe('a node-redis client the app closed itself before app.close()', () => {
  const test = useTestRedis('node-redis-closed');

  it.each([
    ['close()', (client: RedisClientType) => client.close()],
    ['quit()', (client: RedisClientType) => client.quit()],
  ])('stays closed after %s: a release on it is unavailable, and app.close() resolves without reopening it', async (_, close) => {
    const client: RedisClientType = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
    const app = await bootApp({ redis: client, prefix: test.prefix });
    const locks = app.get(LockService);
    const released = await locks.acquire('released-by-hand');
    await locks.acquire('released-on-shutdown');
    await close(client);
    await expect(released.release()).rejects.toBeInstanceOf(LockStoreUnavailableError);
    expect(client.isOpen).toBe(false);
    await app.close();
    expect(client.isOpen).toBe(false);
  });
});

describeForeignClient('node-redis', connectNodeRedis());

describe('a node-redis cluster passed as redis', () => {
  let fixture: RedisClusterFixture;
  let cluster: RedisClusterType;

  beforeAll(async () => {
    fixture = await startRedisCluster({ replicas: 0 });
    cluster = createCluster({ rootNodes: fixture.startupNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });
    cluster.on('error', () => undefined);
    await cluster.connect();
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
    await fixture.stop();
  });

  describeLockStoreConformance('RedisLockStore on a node-redis cluster', async (options) => {
    const store = new RedisLockStore({ client: cluster, prefix: uniquePrefix('node-redis-cluster'), logger: false, ...options });
    return { store, dispose: () => store.close() };
  });

  it('serves @Locked across two apps on the cluster, waking waiters with sharded pub/sub', async () => {
    const [one, two] = [await bootApp({ redis: cluster }), await bootApp({ redis: cluster })];
    try {
      const held = await one.get(LockService).acquire(['spread:a', 'spread:b', 'spread:c'], { ttl: 30_000 });
      const waiting = two.get(LockService).acquire('spread:b', { waitTimeout: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await held.release();
      const next = await waiting;
      expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
      await next.release();
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});

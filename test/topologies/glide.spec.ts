import { Controller, Param, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { GlideClusterClient, type GlideClient } from '@valkey/valkey-glide';
import request from 'supertest';
import { Locked, LockModule, RedisLockStore, type LockModuleOptions } from '../../lib';
import { connectGlide, describeForeignClient } from '../support/foreign-clients';
import { describeLockStoreConformance } from '../support/lock-store.conformance';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';
import { startRedisCluster, type RedisClusterFixture } from '../support/redis-server';

/** The first call's way in and out: the test lets it finish once the second call has been answered. */
const gate = { entered: (): void => undefined, open: Promise.resolve() };

@Controller('jobs')
class JobsController {
  @Post(':id/run')
  @Locked('job:{0}', { waitTimeout: 0 })
  async run(@Param('id') id: string): Promise<string> {
    gate.entered();
    await gate.open;
    return id;
  }
}

async function bootApp(options: LockModuleOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ logger: false, ...options })],
    controllers: [JobsController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('a Valkey GLIDE client passed as redis', () => {
  const prefix = uniquePrefix('glide-e2e');
  const clients: GlideClient[] = [];
  const apps: INestApplication[] = [];

  async function app(): Promise<INestApplication> {
    const client = (await connectGlide(REDIS_URL)).client as GlideClient;
    clients.push(client);
    const booted = await bootApp({ redis: client, prefix });
    apps.push(booted);
    return booted;
  }

  afterAll(async () => {
    await Promise.all(apps.map((booted) => booted.close()));
    // The app closed nothing it was given: the clients still answer.
    expect(await Promise.all(clients.map((client) => client.ping()))).toEqual(clients.map(() => 'PONG'));
    clients.forEach((client) => client.close());
    const cleaner = redisClient();
    await deleteKeysUnder(cleaner, prefix);
    await cleaner.quit();
  });

  it('serves a @Locked route: 409 from another app while the first call runs', async () => {
    const [one, two] = [await app(), await app()];
    let open: () => void = () => undefined;
    gate.open = new Promise((resolve) => (open = resolve));
    const entered = new Promise<void>((resolve) => (gate.entered = resolve));
    const first = request(one.getHttpServer())
      .post('/jobs/a/run')
      .then((response) => response);
    await entered;
    expect((await request(two.getHttpServer()).post('/jobs/a/run')).status).toBe(409);
    open();
    expect((await first).status).toBe(201);
  });
});

describeForeignClient('Valkey GLIDE', connectGlide);

describe('a Valkey GLIDE cluster client passed as redis', () => {
  let fixture: RedisClusterFixture;
  let cluster: GlideClusterClient;

  beforeAll(async () => {
    fixture = await startRedisCluster({ replicas: 0 });
    cluster = await GlideClusterClient.createClient({ addresses: fixture.startupNodes, requestTimeout: 2_000 });
  }, 60_000);

  afterAll(async () => {
    cluster.close();
    await fixture.stop();
  });

  describeLockStoreConformance('RedisLockStore on a GLIDE cluster client', async (options) => {
    const store = new RedisLockStore({ client: cluster, prefix: uniquePrefix('glide-cluster'), logger: false, ...options });
    return { store, dispose: () => store.close() };
  });
});

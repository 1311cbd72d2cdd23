import { Controller, Get, Injectable, Module, Param, Put, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { InvalidLockOptionsError, Locked, LockModule, LockService, UseLock } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';
import { bootHttpApp, HTTP_PLATFORMS } from '../support/app';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What ran at once, across every app of a test; a clash is a writer running beside anyone. */
const load = { running: new Map<string, number>(), most: new Map<string, number>(), clashes: 0 };

async function track(name: string, ms: number): Promise<void> {
  const writers = load.running.get('write') ?? 0;
  if (writers > 0 || (name === 'write' && (load.running.get('read') ?? 0) > 0)) {
    load.clashes += 1;
  }
  load.running.set(name, (load.running.get(name) ?? 0) + 1);
  load.most.set(name, Math.max(load.most.get(name) ?? 0, load.running.get(name) ?? 0));
  await pause(ms);
  load.running.set(name, (load.running.get(name) ?? 0) - 1);
}

@Injectable()
class Payments {
  constructor(readonly locks: LockService) {}

  @Locked('stripe-api', { limit: 2, waitTimeout: 10_000 })
  async charge(): Promise<{ limit: number | undefined; mode: string | undefined }> {
    await track('charge', 30);
    return { limit: this.locks.current()?.limit, mode: this.locks.current()?.mode };
  }

  @Locked('nightly', { limit: 2, onBusy: 'skip' })
  async nightly(): Promise<string> {
    await pause(100);
    return 'ran';
  }
}

@Injectable()
class Documents {
  @Locked('doc:{0}', { mode: 'read', waitTimeout: 10_000 })
  async render(_id: string): Promise<void> {
    await track('read', 100);
  }

  @Locked('doc:{0}', { waitTimeout: 10_000 })
  async edit(_id: string): Promise<void> {
    await track('write', 50);
  }
}

@Controller('docs')
class DocsController {
  @Get(':id')
  @UseLock('doc:{params.id}', { mode: 'read' })
  async read(@Param('id') id: string): Promise<{ id: string }> {
    await pause(300);
    return { id };
  }

  @Put(':id')
  @UseLock('doc:{params.id}', { waitTimeout: 0 })
  write(@Param('id') id: string): { id: string; written: true } {
    return { id, written: true };
  }
}

describe('@Locked and @UseLock with limit and mode', () => {
  const redis = redisClient();
  let prefix: string;
  const apps: INestApplication[] = [];

  async function boot(): Promise<INestApplication> {
    @Module({ imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })], providers: [Payments, Documents] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    apps.push(app);
    return app;
  }

  beforeEach(() => {
    prefix = uniquePrefix('locked-primitives');
    load.running.clear();
    load.most.clear();
    load.clashes = 0;
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await deleteKeysUnder(redis, prefix);
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('runs a method with limit on at most limit calls at once across instances, each holding a permit', async () => {
    const payments = await Promise.all([boot(), boot()]).then((booted) => booted.map((app) => app.get(Payments)));
    const results = await Promise.all(payments.flatMap((service) => Array.from({ length: 4 }, () => service.charge())));
    expect(load.most.get('charge')).toBe(2);
    expect(results).toEqual(Array.from({ length: 8 }, () => ({ limit: 2, mode: 'write' })));
  });

  it('skips a call with onBusy skip only once every permit is out', async () => {
    const payments = (await boot()).get(Payments);
    const outcomes = await Promise.all([payments.nightly(), payments.nightly(), payments.nightly()]);
    expect(outcomes.sort()).toEqual(['ran', 'ran', undefined].sort());
  });

  it('overlaps readers of a document and keeps its writer alone, across instances', async () => {
    const [a, b] = await Promise.all([boot(), boot()]).then((booted) => booted.map((app) => app.get(Documents)));
    await Promise.all([a.render('42'), b.render('42'), a.edit('42'), b.render('42'), a.edit('42')]);
    expect(load.most.get('read')).toBeGreaterThan(1);
    expect(load.clashes).toBe(0);
  });

  it('refuses bad limit and mode options when the class is decorated, naming the method', () => {
    expect(() => {
      class Bad {
        @Locked('k', { limit: 0 })
        async run(): Promise<void> {}
      }
      return Bad;
    }).toThrow(/@Locked on Bad\.run.*limit must be a whole number from 1/);
    expect(() => {
      class Bad {
        @Locked('k', { mode: 'read', limit: 2 })
        async run(): Promise<void> {}
      }
      return Bad;
    }).toThrow(InvalidLockOptionsError);
  });

  describe.each(HTTP_PLATFORMS)('on %s', (_name, createAdapter) => {
    it('answers 409 to a writer while readers hold the document, and serves readers together', async () => {
      const app = await bootHttpApp(
        { imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })], controllers: [DocsController] },
        createAdapter,
      );
      apps.push(app);
      const server = app.getHttpServer();
      const started = Date.now();
      const readers = Promise.all([request(server).get('/docs/7'), request(server).get('/docs/7')]);
      await pause(100);
      const write = await request(server).put('/docs/7');
      expect(write.status).toBe(409);
      const [first, second] = await readers;
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(Date.now() - started).toBeLessThan(550);
      expect((await request(server).put('/docs/7')).status).toBe(200);
    });
  });
});

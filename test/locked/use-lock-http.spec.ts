import {
  Controller,
  Get,
  Injectable,
  Param,
  Post,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { delay, lastValueFrom, map, of, takeWhile, toArray, type Observable } from 'rxjs';
import request from 'supertest';
import { InvalidLockOptionsError, LockInterceptor, Locked, LockModule, LockService, LockStore, UseLock } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix, waitUntil } from '../support/redis';
import { bootHttpApp, HTTP_PLATFORMS } from '../support/app';

/** Sets `request.user` from a header, as an auth guard would. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { id: string } }>();
    req.user = { id: req.headers['x-user'] };
    return true;
  }
}

@Injectable()
class Ledger {
  constructor(private readonly locks: LockService) {}

  @Locked('account:{0}')
  async book(_id: string): Promise<{ reentered: boolean; key: string | undefined }> {
    return { reentered: true, key: this.locks.current()?.keys[0] };
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

@Controller('accounts')
class AccountsController {
  constructor(
    private readonly ledger: Ledger,
    private readonly locks: LockService,
  ) {}

  @Post(':id/pay')
  @UseLock('account:{params.id}', { waitTimeout: 0 })
  async pay(@Param('id') id: string): Promise<{ id: string; current: string | undefined }> {
    await pause(300);
    return { id, current: this.locks.current()?.keys[0] };
  }

  @Post(':id/book')
  @UseLock('account:{params.id}', { waitTimeout: 0 })
  book(@Param('id') id: string): Promise<{ reentered: boolean; key: string | undefined }> {
    return this.ledger.book(id);
  }

  @Post(':id/fail')
  @UseLock('account:{params.id}')
  async fail(): Promise<never> {
    await pause(10);
    throw new Error('payment failed');
  }

  @Get(':id/stream')
  @UseLock('account:{params.id}')
  stream(@Param('id') id: string): Observable<string> {
    return of(id).pipe(delay(300));
  }

  @Post(':id/skip')
  @UseLock('account:{params.id}', { onBusy: 'skip' })
  skip(): { ran: boolean } {
    return { ran: true };
  }

  @Post('tenant')
  @UseLock('tenant:{headers.X-Tenant-Id}', { waitTimeout: 0 })
  async tenant(): Promise<string> {
    await pause(300);
    return 'done';
  }
}

@Controller('me')
@UseGuards(FakeAuthGuard)
@UseLock((context: ExecutionContext) => `user:${context.switchToHttp().getRequest<{ user: { id: string } }>().user.id}`, {
  waitTimeout: 0,
})
class MeController {
  constructor(private readonly locks: LockService) {}

  @Post('slow')
  async slow(): Promise<string | undefined> {
    await pause(300);
    return this.locks.current()?.keys[0];
  }

  @Post('other')
  other(): string | undefined {
    return this.locks.current()?.keys[0];
  }

  @Post('own')
  @UseLock('own:{user.id}')
  own(): string | undefined {
    return this.locks.current()?.keys.join(',');
  }
}

describe.each(HTTP_PLATFORMS)('@UseLock (%s)', (_platform, createAdapter) => {
  const redis = redisClient();
  const prefix = uniquePrefix('use-lock');
  let app: INestApplication;
  let locks: LockService;
  const http = (): ReturnType<typeof request> => request(app.getHttpServer());

  beforeAll(async () => {
    app = await bootHttpApp(
      {
        imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
        controllers: [AccountsController, MeController],
        providers: [Ledger],
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

  it('locks a handler on a route param and answers 409 to a second request while the first runs', async () => {
    const first = http()
      .post('/accounts/1/pay')
      .then((response) => response);
    await waitUntil(() => locks.isLocked('account:1'));
    const second = await http().post('/accounts/1/pay');
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
    expect((await first).body).toEqual({ id: '1', current: 'account:1' });
    expect(await locks.isLocked('account:1')).toBe(false);
  });

  it('does not hold other keys: another account is paid at the same time', async () => {
    const [a, b] = await Promise.all([http().post('/accounts/2/pay'), http().post('/accounts/3/pay')]);
    expect([a.status, b.status]).toEqual([201, 201]);
  });

  it('is re-entrant with @Locked on the same key inside the handler', async () => {
    const response = await http().post('/accounts/4/book');
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ reentered: true, key: 'account:4' });
  });

  it('releases the lock when the handler throws', async () => {
    const response = await http().post('/accounts/5/fail');
    expect(response.status).toBe(500);
    expect(await locks.isLocked('account:5')).toBe(false);
  });

  it('holds the lock until an Observable response completes', async () => {
    const streaming = http()
      .get('/accounts/6/stream')
      .then((response) => response);
    await waitUntil(() => locks.isLocked('account:6'));
    await pause(150);
    expect(await locks.isLocked('account:6')).toBe(true);
    expect((await streaming).text).toBe('6');
    expect(await locks.isLocked('account:6')).toBe(false);
  });

  it("with onBusy: 'skip' does not run the handler and answers empty while the key is held", async () => {
    const held = await locks.acquire('account:7');
    const skipped = await http().post('/accounts/7/skip');
    await held.release();
    const ran = await http().post('/accounts/7/skip');
    expect(skipped.status).toBe(201);
    expect(skipped.text).toBe('');
    expect(ran.body).toEqual({ ran: true });
  });

  it('reads a header in any case of its name', async () => {
    const first = http()
      .post('/accounts/tenant')
      .set('x-tenant-id', 'acme')
      .then((response) => response);
    await waitUntil(() => locks.isLocked('tenant:acme'));
    const busy = await http().post('/accounts/tenant').set('X-Tenant-Id', 'acme');
    const other = await http().post('/accounts/tenant').set('X-Tenant-Id', 'globex');
    expect([busy.status, other.status, (await first).status]).toEqual([409, 201, 201]);
  });

  it('answers with an InvalidLockOptionsError naming the placeholder when the header is missing, without running the handler', async () => {
    const response = await http().post('/accounts/tenant');
    expect(response.status).toBe(500);
    expect(await locks.isLocked('tenant:undefined')).toBe(false);
  });

  it('on a controller, locks every handler on a key of the user a guard set; a handler’s own @UseLock replaces it', async () => {
    const slow = http()
      .post('/me/slow')
      .set('x-user', 'u1')
      .then((response) => response);
    await waitUntil(() => locks.isLocked('user:u1'));
    const other = await http().post('/me/other').set('x-user', 'u1');
    const otherUser = await http().post('/me/other').set('x-user', 'u2');
    const own = await http().post('/me/own').set('x-user', 'u1');
    expect(other.status).toBe(409);
    expect(otherUser.text).toBe('user:u2');
    expect(own.text).toBe('own:u1');
    expect((await slow).text).toBe('user:u1');
  });
});

@Controller('global')
class GlobalController {
  constructor(private readonly locks: LockService) {}

  @Post(':id')
  @UseLock('global:{params.id}')
  locked(): string[] | undefined {
    return this.locks.current()?.keys.slice();
  }

  @Post('free/:id')
  free(): string {
    return this.locks.current() === undefined ? 'no lock' : 'locked';
  }
}

describe('LockInterceptor as APP_INTERCEPTOR', () => {
  const redis = redisClient();
  const prefix = uniquePrefix('use-lock-global');
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [GlobalController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: LockInterceptor }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('locks the handlers with @UseLock once (not once per interceptor) and passes the others through', async () => {
    // The response does not wait for Redis's answer to the release, and `released` is published on that answer: here
    // it comes after both responses, as it may under load, so the events are read up to `released`, not at a response.
    const store = app.get(LockStore);
    const release = store.release.bind(store);
    let answer = (): void => undefined;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const spy = jest.spyOn(store, 'release').mockImplementation(async (...args) => {
      const released = await release(...args);
      await answered;
      return released;
    });
    const events = lastValueFrom(
      app.get(LockService).events.pipe(
        takeWhile((event) => event.type !== 'released', true),
        map((event) => event.type),
        toArray(),
      ),
    );
    const locked = await request(app.getHttpServer()).post('/global/9');
    const free = await request(app.getHttpServer()).post('/global/free/9');
    answer();
    expect(locked.body).toEqual(['global:9']);
    expect(free.text).toBe('no lock');
    expect(await events).toEqual(['acquired', 'released']);
    spy.mockRestore();
  });
});

describe('@UseLock at decoration time', () => {
  it('refuses a malformed template, an unknown option and a bad value, naming the handler', () => {
    const decorate = (key: Parameters<typeof UseLock>[0], options?: Parameters<typeof UseLock>[1]): void => {
      class Target {
        handler(): void {}
      }
      const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'handler') as PropertyDescriptor;
      UseLock(key, options)(Target.prototype, 'handler', descriptor);
    };
    expect(() => decorate('a:{nope.x}')).toThrow(
      /@UseLock on Target\.handler: placeholder \{nope\.x\} is not a path into the HTTP request/,
    );
    expect(() => decorate('a:{params}')).toThrow(InvalidLockOptionsError);
    expect(() => decorate('{user.id')).toThrow(/@UseLock on Target\.handler: key template "\{user\.id" has an unclosed \{/);
    expect(() => decorate(['a', 'user.id}'])).toThrow(
      /@UseLock on Target\.handler: key template "user\.id\}" has a \} that closes nothing/,
    );
    expect(() => decorate('a:{}')).toThrow(/@UseLock on Target\.handler: key template "a:\{\}" has an empty placeholder \{\}/);
    expect(() => decorate('a:{params..id}')).toThrow(/placeholder \{params\.\.id\} is not a path into the HTTP request/);
    expect(() => decorate('a', { bogus: 1 } as never)).toThrow(/@UseLock on Target\.handler.*bogus/);
    expect(() => decorate('a', { ttl: -1 })).toThrow(InvalidLockOptionsError);
    expect(() => decorate(42 as never)).toThrow(/@UseLock on Target\.handler: the key must be a string/);
    expect(() => decorate([])).toThrow(/the key array must hold at least one key/);
  });
});

import { Controller, Injectable, Param, Post, Scope, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { InvalidLockOptionsError, LockError, Locked, LockModule, LockService } from '../../lib';
import { REDIS_URL, useTestRedis } from '../support/redis';

/** A decorator of another library that wraps the method, as logging and tracing decorators do. */
function Traced(): MethodDecorator {
  return (_target, _key, descriptor) => {
    const original = descriptor.value as unknown as (...args: unknown[]) => unknown;
    descriptor.value = function traced(this: unknown, ...args: unknown[]) {
      return original.apply(this, args);
    } as never;
  };
}

@Injectable()
class Orders {
  constructor(readonly locks: LockService) {}

  @Locked('order:{0}')
  async confirm(id: string, _note: string, _by?: number): Promise<string | undefined> {
    return `${id}:${this.locks.current()?.keys[0]}`;
  }

  @Traced()
  @Locked('traced-below:{0.id}')
  async tracedBelow(order: { id: string }): Promise<string | undefined> {
    return this.locks.current()?.keys[0] ?? `none for ${order.id}`;
  }

  @Locked('traced-above:{0.id}')
  @Traced()
  async tracedAbove(order: { id: string }): Promise<string | undefined> {
    return this.locks.current()?.keys[0] ?? `none for ${order.id}`;
  }
}

@Injectable({ scope: Scope.REQUEST })
class Carts {
  constructor(readonly locks: LockService) {}

  @Locked('cart:{0}', { waitTimeout: 0 })
  async checkout(id: string): Promise<boolean> {
    // Which app's LockService ran the lock: the one this request-scoped instance was injected with.
    return this.locks.current()?.keys[0] === `cart:${id}`;
  }
}

@Controller('carts')
class CartsController {
  constructor(private readonly carts: Carts) {}

  @Post(':id')
  checkout(@Param('id') id: string): Promise<boolean> {
    return this.carts.checkout(id);
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientReport {
  constructor(readonly locks: LockService) {}

  @Locked('report')
  async build(): Promise<boolean> {
    return this.locks.current()?.keys[0] === 'report';
  }
}

@Injectable()
class Reports {
  constructor(readonly report: TransientReport) {}
}

describe('@Locked at the edges', () => {
  const test = useTestRedis('locked-edges');
  const apps: INestApplication[] = [];

  async function boot(metadata: Parameters<typeof Test.createTestingModule>[0], withLocks = true): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      ...metadata,
      imports: [
        ...(withLocks ? [LockModule.forRoot({ redis: REDIS_URL, prefix: test.prefix, logger: false })] : []),
        ...(metadata.imports ?? []),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    apps.push(app);
    return app;
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  it('keeps the method’s name and parameter count', () => {
    const method = Orders.prototype.confirm;
    expect(method.name).toBe('confirm');
    expect(method.length).toBe(3);
  });

  it.each([
    [
      'a property',
      () => Locked('k')(Orders.prototype, 'locks', undefined as never),
      /@Locked on Orders\.locks: it decorates methods only, not a property/,
    ],
    [
      'a class',
      () => (Locked('k') as unknown as ClassDecorator)(Orders),
      /@Locked on class Orders: it decorates methods only, not a class/,
    ],
    [
      'an accessor',
      () => Locked('k')(Orders.prototype, 'x', { get: () => 1 } as never),
      /@Locked on Orders\.x: it decorates methods only, not a getter or setter/,
    ],
  ])('refuses to decorate %s with an InvalidLockOptionsError naming class and member', (_name, decorate, message) => {
    let error: unknown;
    try {
      decorate();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidLockOptionsError);
    expect((error as Error).message).toMatch(message);
  });

  it.each(['tracedBelow', 'tracedAbove'] as const)(
    'resolves the key from the real arguments under another wrapping decorator (%s)',
    async (method) => {
      const app = await boot({ providers: [Orders] });
      const orders = app.get(Orders);
      const prefix = method === 'tracedBelow' ? 'traced-below' : 'traced-above';
      await expect(orders[method]({ id: '7' })).resolves.toBe(`${prefix}:7`);
    },
  );

  it('fails a call in an app without LockModule with a LockError that says what to import', async () => {
    const app = await boot({ providers: [{ provide: Orders, useFactory: () => new Orders({} as LockService) }] }, false);
    const error = await app
      .get(Orders)
      .confirm('1', 'n')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as Error).message).toMatch(/Orders\.confirm is @Locked, but .*import LockModule\.forRoot\(\)/);
  });

  it('binds a request-scoped class to the app that created each instance, while another app comes and goes', async () => {
    const first = await boot({ controllers: [CartsController], providers: [Carts] });
    const second = await boot({ controllers: [CartsController], providers: [Carts] });
    await expect(request(second.getHttpServer()).post('/carts/1')).resolves.toMatchObject({ status: 201, text: 'true' });
    await second.close();
    apps.splice(apps.indexOf(second), 1);
    await expect(request(first.getHttpServer()).post('/carts/2')).resolves.toMatchObject({ status: 201, text: 'true' });
  });

  it('binds the instances of a transient class to the app that created them', async () => {
    const first = await boot({ providers: [Reports, TransientReport] });
    const second = await boot({ providers: [Reports, TransientReport] });
    await second.close();
    apps.splice(apps.indexOf(second), 1);
    await expect(first.get(Reports).report.build()).resolves.toBe(true);
  });
});

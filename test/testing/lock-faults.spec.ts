import { Controller, Injectable, Param, Post, type INestApplication } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import request from 'supertest';
import {
  InvalidLockOptionsError,
  Locked,
  LockLostError,
  LockNotAcquiredError,
  LockService,
  LockStoreUnavailableError,
  UseLock,
  type Lock,
} from '../../lib';
import { LockFaults, LockTestingModule } from '../../lib/testing';

@Injectable()
class OrdersService {
  readonly confirmed: string[] = [];

  constructor(private readonly locks: LockService) {}

  /** Works until its lock is lost. */
  @Locked('watchful')
  async watchful(): Promise<string> {
    const signal = this.locks.current()?.signal as AbortSignal;
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    return `stopped: ${(signal.reason as Error).name}`;
  }

  @Locked('order:{0}', { waitTimeout: 200 })
  async confirm(id: string): Promise<string> {
    this.confirmed.push(id);
    return `confirmed ${id}`;
  }

  @Locked('nightly-report', { onBusy: 'skip' })
  async report(): Promise<string> {
    return 'reported';
  }

  @Locked('exports', { limit: 2, waitTimeout: 0 })
  async export(): Promise<string> {
    return 'exported';
  }

  @Locked('doc:{0}', { mode: 'read', waitTimeout: 0 })
  async read(id: string): Promise<string> {
    return `read ${id}`;
  }
}

@Controller('accounts')
class AccountsController {
  @Post(':id/pay')
  @UseLock('account:{params.id}', { waitTimeout: 0 })
  pay(@Param('id') id: string): string {
    return id;
  }
}

describe('LockTestingModule and LockFaults', () => {
  let moduleRef: TestingModule;
  let app: INestApplication;
  let faults: LockFaults;
  let locks: LockService;
  let orders: OrdersService;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [LockTestingModule.forRoot()],
      providers: [OrdersService],
      controllers: [AccountsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    faults = moduleRef.get(LockFaults);
    locks = moduleRef.get(LockService);
    orders = moduleRef.get(OrdersService);
  });

  afterEach(async () => {
    await app.close();
  });

  it('runs @Locked, @UseLock and LockService on the in-memory store, without a Redis', async () => {
    await expect(orders.confirm('1')).resolves.toBe('confirmed 1');
    await request(app.getHttpServer()).post('/accounts/1/pay').expect(201, '1');
    await expect(locks.using('k', (lock) => lock.fencingToken)).resolves.toEqual(expect.any(Number));
  });

  describe('busy(key | RegExp)', () => {
    it('makes a @Locked method fail with LockNotAcquiredError after its waitTimeout, without running it', async () => {
      faults.busy('order:1');
      const started = Date.now();
      const error = await orders.confirm('1').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      expect((error as LockNotAcquiredError).keys).toEqual(['order:1']);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(orders.confirmed).toEqual([]);
      await expect(orders.confirm('2')).resolves.toBe('confirmed 2');
    });

    it('makes every key matching a pattern busy, and tells isLocked()', async () => {
      faults.busy(/^order:/g);
      await expect(orders.confirm('3')).rejects.toBeInstanceOf(LockNotAcquiredError);
      await expect(orders.confirm('4')).rejects.toBeInstanceOf(LockNotAcquiredError);
      expect(await locks.isLocked('order:5')).toBe(true);
      expect(await locks.isLocked('invoice:5')).toBe(false);
      expect(await locks.tryAcquire('order:6')).toBeNull();
    });

    it('makes onBusy: "skip" skip the work', async () => {
      faults.busy('nightly-report');
      await expect(orders.report()).resolves.toBeUndefined();
      faults.clear();
      await expect(orders.report()).resolves.toBe('reported');
    });

    it('answers a @UseLock route 409 with the client’s answer', async () => {
      faults.busy('account:7');
      const response = await request(app.getHttpServer()).post('/accounts/7/pay');
      expect(response.status).toBe(409);
      expect(response.body).toEqual({ statusCode: 409, message: 'The resource is busy; try again later.', error: 'Conflict' });
    });

    it('leaves no permit of a semaphore and makes read locks wait', async () => {
      await expect(orders.export()).resolves.toBe('exported');
      faults.busy('exports');
      faults.busy('doc:1');
      await expect(orders.export()).rejects.toBeInstanceOf(LockNotAcquiredError);
      await expect(orders.read('1')).rejects.toBeInstanceOf(LockNotAcquiredError);
      await expect(orders.read('2')).resolves.toBe('read 2');
    });

    it('wakes a waiter when the fault is cleared, long before its waitTimeout', async () => {
      faults.busy('order:8');
      const waiting = locks.acquire('order:8', { waitTimeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const clearedAt = Date.now();
      faults.clear();
      const lock = await waiting;
      expect(Date.now() - clearedAt).toBeLessThan(1000);
      await lock.release();
    });

    it('leaves a lock this app already holds held, and refuses the key to the next caller', async () => {
      const held = await locks.acquire('order:9');
      faults.busy('order:9');
      expect(held.isHeld).toBe(true);
      await held.release();
      await expect(locks.acquire('order:9', { waitTimeout: 0 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    });

    it('refuses a key that is not a string or a RegExp', () => {
      expect(() => faults.busy('')).toThrow(InvalidLockOptionsError);
      expect(() => faults.busy(42 as unknown as string)).toThrow(/LockFaults.busy\(\): key must be a string/);
    });
  });

  describe('unavailable(on = true)', () => {
    it('fails every store call with LockStoreUnavailableError (503 over HTTP) until turned off', async () => {
      faults.unavailable();
      await expect(locks.acquire('k', { waitTimeout: 0 })).rejects.toBeInstanceOf(LockStoreUnavailableError);
      await expect(locks.isLocked('k')).rejects.toThrow(/LockFaults.unavailable\(\) is on/);
      await expect(orders.report()).rejects.toBeInstanceOf(LockStoreUnavailableError);
      const response = await request(app.getHttpServer()).post('/accounts/1/pay');
      expect(response.status).toBe(503);
      faults.unavailable(false);
      await expect(orders.confirm('1')).resolves.toBe('confirmed 1');
    });

    it('keeps a waiter retrying until it comes back within its waitTimeout', async () => {
      faults.unavailable();
      const waiting = locks.acquire('k', { waitTimeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 150));
      faults.unavailable(false);
      const lock = await waiting;
      expect(lock.isHeld).toBe(true);
      await lock.release();
    });

    it('makes a release fail, which using() logs and retries rather than throwing over the work', async () => {
      const result = await locks.using('k', async () => {
        faults.unavailable();
        return 'done';
      });
      expect(result).toBe('done');
      faults.clear();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await locks.isLocked('k')).toBe(false);
    });
  });

  describe('lose(key)', () => {
    it('makes the locks held on the key lost now: signal aborts with LockLostError, isHeld turns false', async () => {
      let seen: { aborted: boolean; reason: unknown; held: boolean } | undefined;
      await locks.using('job', async (lock) => {
        await faults.lose('job');
        seen = { aborted: lock.signal.aborted, reason: lock.signal.reason, held: lock.isHeld };
      });
      expect(seen).toEqual({ aborted: true, reason: expect.any(LockLostError), held: false });
    });

    it('frees the key for others, and leaves the locks on other keys alone', async () => {
      const lost = await locks.acquire('a');
      const kept = await locks.acquire('b');
      await faults.lose('a');
      expect(lost.isHeld).toBe(false);
      expect(kept.isHeld).toBe(true);
      const next = await locks.acquire('a', { waitTimeout: 0 });
      expect(next.fencingToken).toBeGreaterThan(lost.fencingToken);
      await Promise.all([next.release(), kept.release(), lost.release()]);
    });

    it('loses every permit of a semaphore and every read lock of the key, and a lock over several keys', async () => {
      const permits = await Promise.all([1, 2].map(() => locks.acquire('pool', { limit: 2 })));
      const readers = await Promise.all([1, 2].map(() => locks.acquire('doc', { mode: 'read' })));
      const both = await locks.acquire(['x', 'y']);
      await Promise.all([faults.lose('pool'), faults.lose('doc'), faults.lose('y')]);
      const all: Lock[] = [...permits, ...readers, both];
      expect(all.map((lock) => lock.signal.reason instanceof LockLostError)).toEqual([true, true, true, true, true]);
      await expect(locks.acquire(['x', 'y'], { waitTimeout: 0 })).resolves.toMatchObject({ keys: ['x', 'y'] });
    });

    it('stops the work of a @Locked method that watches its lock’s signal', async () => {
      const running = orders.watchful();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await faults.lose('watchful');
      await expect(running).resolves.toBe('stopped: LockLostError');
    });
  });

  it('clear() ends every fault', async () => {
    faults.busy('a');
    faults.busy(/b/);
    faults.unavailable();
    faults.clear();
    await expect(locks.tryAcquire(['a', 'b'])).resolves.not.toBeNull();
  });
});

describe('LockTestingModule.forRoot()', () => {
  it('gives each app its own store, even from one module definition', async () => {
    const testing = LockTestingModule.forRoot();
    const first = await Test.createTestingModule({ imports: [testing] }).compile();
    const second = await Test.createTestingModule({ imports: [testing] }).compile();
    await first.init();
    await second.init();
    const held = await first.get(LockService).acquire('shared');
    await expect(second.get(LockService).acquire('shared', { waitTimeout: 0 })).resolves.toMatchObject({ keys: ['shared'] });
    await held.release();
    await Promise.all([first.close(), second.close()]);
  });

  it('takes the LockModule options but where the store is, and checks them at once', () => {
    expect(() => LockTestingModule.forRoot({ ttl: 5 })).toThrow(/ttl must be a whole number of ms from 10/);
    expect(() => LockTestingModule.forRoot({ redis: 'redis://x' } as never)).toThrow(/runs on the in-memory store; drop redis/);
  });

  it('logs nothing unless given a logger', async () => {
    const lines: string[] = [];
    const logger = { log: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    for (const options of [{}, { logger }]) {
      const moduleRef = await Test.createTestingModule({ imports: [LockTestingModule.forRoot(options)] }).compile();
      await moduleRef.init();
      const lock = await moduleRef.get(LockService).acquire('k');
      await moduleRef.get(LockFaults).lose('k');
      expect(lock.isHeld).toBe(false);
      await moduleRef.close();
    }
    expect(lines).toEqual([expect.stringMatching(/^Lock "k" was lost/)]);
  });
});

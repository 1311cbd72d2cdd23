import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockNotAcquiredError, type Lock, type LockModuleOptions, type LockService } from '../../lib';
import { spawnWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { eventually } from '../support/redis';
import { connectGlide, connectNodeRedis, type ClientConnector } from '../support/foreign-clients';
import { commandsProcessed, countClientCommands, startRedisServer, type RedisServer } from '../support/redis-server';
import { Redis as RedisClient } from 'ioredis';

/** Opens the app's connection and puts its scripts in Redis's cache, once per connection, before commands are counted. */
async function warmUp(locks: LockService): Promise<void> {
  await (await locks.acquire('warm-up-the-connection')).release();
}

/** How an app reaches Redis: a URL (the module makes an ioredis client), or a client of another library the app made. */
type Connect = (url: string, closers: Array<() => Promise<unknown>>) => Promise<LockModuleOptions['redis']>;

const ioredisUrl: Connect = async (url) => url;

/** A client of another library, closed after each test. */
const viaClient =
  (connect: ClientConnector): Connect =>
  async (url, closers) => {
    const connected = await connect(url);
    closers.push(async () => connected.close());
    return connected.client;
  };

// These specs count commands, kill connections and kill processes: they run on a redis-server of their own.
describe.each([
  ['ioredis', ioredisUrl],
  ['a node-redis client', viaClient(connectNodeRedis())],
  ['a Valkey GLIDE client', viaClient(connectGlide)],
])('waiting for a busy lock (%s)', (client, connect) => {
  let server: RedisServer;
  let redis: Redis;
  const apps: LockApp[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const prefix = 'lock:';

  async function app(ttl = 30_000): Promise<LockApp> {
    const booted = await bootLockApp({ redis: await connect(server.url, closers), prefix, ttl });
    apps.push(booted);
    return booted;
  }

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new RedisClient(server.url);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.app.close()));
    await Promise.all(closers.splice(0).map((close) => close()));
    await redis.flushall();
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  it('hands the lock to waiters in the order they started waiting, across connections', async () => {
    const holder = await (await app()).locks.acquire('fifo');
    const waiters = await Promise.all([app(), app(), app(), app()]);
    const order: number[] = [];
    const waiting: Array<Promise<void>> = [];
    for (const [index, waiter] of waiters.entries()) {
      waiting.push(
        waiter.locks.acquire('fifo').then(async (lock) => {
          order.push(index);
          await sleep(10);
          await lock.release();
        }),
      );
      // The order is the order of arrival in Redis's queue: the next waiter starts once this one has its place.
      await eventually(async () => (await redis.zcard(`${prefix}{fifo}:q`)) === index + 1, `waiter ${index} queued`);
    }
    await holder.release();
    await Promise.all(waiting);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('keeps FIFO order among waiters of one process too', async () => {
    const { locks } = await app();
    const holder = await locks.acquire('local-fifo');
    const order: number[] = [];
    const waiting = [0, 1, 2, 3, 4].map((index) =>
      locks.acquire('local-fifo').then(async (lock) => {
        order.push(index);
        await lock.release();
      }),
    );
    await sleep(50);
    await holder.release();
    await Promise.all(waiting);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('wakes the next waiter on release without polling Redis while it waits', async () => {
    const holder = await (await app()).locks.acquire('no-poll');
    const { locks } = await app();
    const waiting = locks.acquire('no-poll', { waitTimeout: 20_000 });
    await sleep(300);
    const before = await commandsProcessed(redis);
    await sleep(1_500);
    const during = (await commandsProcessed(redis)) - before - 1;
    const releasedAt = Date.now();
    await holder.release();
    const lock = await waiting;
    expect(during).toBe(0);
    expect(Date.now() - releasedAt).toBeLessThan(500);
    await lock.release();
  });

  it('sends a handful of commands for 100 idle waiters of one process, not one per waiter per poll', async () => {
    const holder = await (await app()).locks.acquire('idle');
    const { locks } = await app();
    await warmUp(locks);
    let waiting: Array<Promise<Lock>> = [];
    const sent = await countClientCommands(server.url, async () => {
      waiting = Array.from({ length: 100 }, () => locks.acquire('idle', { waitTimeout: 20_000 }));
      await sleep(2_000);
    });
    expect(sent.length).toBeLessThan(10);
    await holder.release();
    for (const lock of await Promise.all(waiting.map((promise) => promise.then((lock) => lock.release())))) {
      expect(lock).toBe(true);
    }
  });

  it('sends a handful of commands for 100 idle waiters of one process on a full semaphore, none once they subscribed', async () => {
    const holder = (await app()).locks;
    const permits = [
      await holder.acquire('pool', { limit: 3 }),
      await holder.acquire('pool', { limit: 3 }),
      await holder.acquire('pool', { limit: 3 }),
    ];
    const { locks } = await app();
    await warmUp(locks);
    let waiting: Array<Promise<Lock>> = [];
    const sent = await countClientCommands(server.url, async () => {
      waiting = Array.from({ length: 100 }, () => locks.acquire('pool', { limit: 3, waitTimeout: 20_000 }));
      await sleep(300);
    });
    expect(sent.length).toBeLessThan(15);
    const before = await commandsProcessed(redis);
    await sleep(1_500);
    expect((await commandsProcessed(redis)) - before - 1).toBe(0);
    const releasedAt = Date.now();
    await permits[0].release();
    const first = await Promise.race(waiting);
    expect(Date.now() - releasedAt).toBeLessThan(500);
    await Promise.all([first.release(), permits[1].release(), permits[2].release()]);
    await Promise.all(waiting.map((promise) => promise.then((lock) => lock.release())));
  });

  it('wakes the readers waiting behind a writer on its release without polling Redis while they wait', async () => {
    const writer = await (await app()).locks.acquire('doc');
    const { locks } = await app();
    const readers = [
      locks.acquire('doc', { mode: 'read', waitTimeout: 20_000 }),
      locks.acquire('doc', { mode: 'read', waitTimeout: 20_000 }),
    ];
    await sleep(300);
    const before = await commandsProcessed(redis);
    await sleep(1_500);
    const during = (await commandsProcessed(redis)) - before - 1;
    const releasedAt = Date.now();
    await writer.release();
    const held = await Promise.all(readers);
    expect(during).toBe(0);
    expect(Date.now() - releasedAt).toBeLessThan(500);
    await Promise.all(held.map((reader) => reader.release()));
  });

  it('removes the queue entry of a waiter whose wait is cancelled or times out', async () => {
    const holder = await (await app()).locks.acquire('cancel');
    const { locks } = await app();
    const controller = new AbortController();
    const cancelled = locks.acquire('cancel', { signal: controller.signal, waitTimeout: 20_000 }).catch((e: unknown) => e);
    const timedOut = (await app()).locks.acquire('cancel', { waitTimeout: 300 }).catch((e: unknown) => e);
    await sleep(100);
    expect(await redis.zcard('lock:{cancel}:q')).toBe(2);
    controller.abort(new Error('gave up'));
    expect(((await cancelled) as Error).message).toBe('gave up');
    expect(await timedOut).toBeInstanceOf(LockNotAcquiredError);
    expect(await redis.exists('lock:{cancel}:q', 'lock:{cancel}:qt')).toBe(0);
    await holder.release();
  });

  it('does not let a crashed waiter block the queue beyond its deadline', async () => {
    const holder = await (await app()).locks.acquire('crash');
    const child = spawnWorker('waiter', [server.url, prefix, 'crash', '1500']);
    await new Promise((resolve) => child.stdout?.once('data', resolve));
    for (let i = 0; i < 100 && (await redis.zcard('lock:{crash}:q')) === 0; i += 1) {
      await sleep(20);
    }
    const queuedAt = Date.now();
    child.kill('SIGKILL');
    const { locks } = await app();
    const next = locks.acquire('crash', { waitTimeout: 10_000 });
    await sleep(50);
    await holder.release();
    const lock = await next;
    const waited = Date.now() - queuedAt;
    expect(waited).toBeLessThan(1500 + 1000);
    expect(waited).toBeGreaterThan(1000);
    await lock.release();
  });

  it('subscribes again to a channel whose first SUBSCRIBE was refused, instead of waiting deaf until the lease ends', async () => {
    // A user that may not listen on the lock's channel at first (NOPERM), then may.
    await redis.call('ACL', 'SETUSER', 'late-listener', 'on', '>pw', '~*', 'resetchannels', '&other:*', '+@all');
    const holder = await (await app()).locks.acquire('deaf', { ttl: 3_000, autoExtend: false });
    const listener = await bootLockApp({
      redis: { host: '127.0.0.1', port: server.port, username: 'late-listener', password: 'pw' },
      prefix,
    });
    apps.push(listener);
    await expect(listener.locks.acquire('deaf', { waitTimeout: 300 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    await redis.call('ACL', 'SETUSER', 'late-listener', '&lock:*');
    const started = Date.now();
    const waiting = listener.locks.acquire('deaf', { waitTimeout: 10_000 });
    await sleep(300);
    await holder.release();
    const lock = await waiting;
    expect(Date.now() - started).toBeLessThan(1_500);
    await lock.release();
  });

  // GLIDE reconnects its subscriber without telling anyone: a message lost meanwhile costs up to half a waiter's place.
  const reconnectsAreSeen = client === 'a Valkey GLIDE client' ? it.skip : it;
  reconnectsAreSeen(
    're-checks after its subscriber reconnects: a hand-off published while the connection was down is not slept through',
    async () => {
      const holder = await (await app()).locks.acquire('lost-message');
      const { locks } = await app();
      let got: Lock | undefined;
      const waiting = locks.acquire('lost-message', { waitTimeout: Number.POSITIVE_INFINITY }).then((lock) => (got = lock));
      await sleep(200);
      await redis.client('KILL', 'TYPE', 'pubsub');
      await holder.release();
      // Redis handed the lock to the waiter at once; it used to learn it only at its next re-check (half its ttl).
      for (let i = 0; i < 100 && !got; i += 1) {
        await sleep(30);
      }
      expect(got?.isHeld).toBe(true);
      await (await waiting).release();
    },
  );
});

// The queue's places are Lua's business, whatever the client: one client is enough.
describe('a waiter that dies while it waits', () => {
  let server: RedisServer;
  let redis: Redis;
  const prefix = 'lock:';

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new RedisClient(server.url);
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  it('does not let a crashed waiter that would wait for ever block a free key: its place in Redis lapses', async () => {
    // A holder whose process dies below: it stops renewing, and its key runs out without a release to announce it.
    await redis.set('lock:{crash-forever}', 'gone@host:1/holder', 'PX', 60_000);
    const child = spawnWorker('waiter', [server.url, prefix, 'crash-forever', 'Infinity', '1500']);
    await new Promise((resolve) => child.stdout?.once('data', resolve));
    for (let i = 0; i < 250 && (await redis.zcard('lock:{crash-forever}:q')) === 0; i += 1) {
      await sleep(20);
    }
    child.kill('SIGKILL');
    await redis.pexpire('lock:{crash-forever}', 200);
    const { app, locks } = await bootLockApp({ redis: server.url, prefix });
    try {
      const lock = await locks.acquire('crash-forever', { waitTimeout: 5_000 });
      expect(lock.isHeld).toBe(true);
      await lock.release();
    } finally {
      await app.close();
    }
  });
});

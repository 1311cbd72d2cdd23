import { setTimeout as sleep } from 'node:timers/promises';
import { toArray, firstValueFrom } from 'rxjs';
import { InvalidLockOptionsError, LockLostError, LockError, MemoryLockStore, type LockEvent, type Leadership } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { changeTo, expectElectionAndHandOver, soleLeader, stall } from '../support/leadership';
import { eventually, keysUnder, useTestRedis } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { Redis } from 'ioredis';

/** Ms the tests' timings cannot explain a hand-over by: no lease runs out and no round ends within them. */
const LONG = { ttl: 30_000, retry: 10_000 };

describe('LockService.elect()', () => {
  const test = useTestRedis('leader');
  const apps: LockApp[] = [];

  const boot = async (appName: string, options: Parameters<typeof bootLockApp>[0] = {}): Promise<LockApp> => {
    const app = await bootLockApp({ prefix: test.prefix, appName, ...options });
    apps.push(app);
    return app;
  };

  afterEach(async () => {
    await Promise.all(apps.splice(0).map(({ app }) => app.close()));
  });

  it('elects one of several apps: it leads with a term, the others follow and name it as the leader', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => boot(name)));
    const campaigns = [a, b, c].map(({ locks }) => locks.elect('jobs', { ttl: 2_000, retry: 200 }));
    const leader = await soleLeader(campaigns);
    const followers = campaigns.filter((campaign) => campaign !== leader);
    expect(leader.term).toEqual(expect.any(Number));
    expect(leader.leader).toMatch(/^[abc]@[^:]+:\d+$/);
    expect(leader.signal.aborted).toBe(false);
    await eventually(() => followers.every((follower) => follower.leader === leader.leader), 'the followers name the leader', 2_000);
    for (const follower of followers) {
      expect(follower).toMatchObject({ isLeader: false, term: undefined });
      expect(follower.signal.aborted).toBe(true);
      expect(follower.signal.reason).toBeInstanceOf(LockLostError);
    }
    expect(await test.redis.get(`${test.prefix}{leader:jobs}`)).toMatch(new RegExp(`^${leader.leader}/`));
  });

  it('resign() ends the term and hands the name at once to a waiting app, with a higher term, and stops campaigning', async () => {
    const [a, b] = await Promise.all([boot('a'), boot('b')]);
    const first = a.locks.elect('jobs', LONG);
    await changeTo(first, true);
    const second = b.locks.elect('jobs', LONG);
    await eventually(() => second.leader === first.leader, 'the follower sees the leader', 12_000);
    const oldTerm = first.term as number;
    const signal = first.signal;
    const startedAt = performance.now();
    const takenOver = changeTo(second, true);
    const resigned = first.resign();
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(LockLostError);
    expect(first).toMatchObject({ isLeader: false, term: undefined });
    await resigned;
    await takenOver;
    // No lease ran out and no round ended: only the resignation explains the hand-over.
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(second.term).toBeGreaterThan(oldTerm);
    expect(second.leader).toMatch(/^b@/);
    await expect(first.resign()).resolves.toBeUndefined();

    // It campaigns no more: when the other resigns too, nobody leads.
    await second.resign();
    await sleep(300);
    expect(first.isLeader).toBe(false);
    expect(await keysUnder(test.redis, `${test.prefix}{leader:jobs}`)).toEqual([`${test.prefix}{leader:jobs}:fence`]);
  }, 20_000);

  it('changes: true when a term starts, false when it ends, true at once for a late subscriber; completes on resign', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', { ttl: 1_000, retry: 100 });
    const seen = firstValueFrom(leadership.changes.pipe(toArray()));
    await changeTo(leadership, true);
    const late = firstValueFrom(leadership.changes.pipe(toArray()));
    await leadership.resign();
    expect(await seen).toEqual([true, false]);
    expect(await late).toEqual([true, false]);
    expect(await firstValueFrom(leadership.changes.pipe(toArray()))).toEqual([]);
  });

  it('follows a lost term (its key deleted) with a new campaign: the signal aborts, changes says false, then a higher term', async () => {
    const { locks } = await boot('a');
    const events: LockEvent[] = [];
    locks.events.subscribe((event) => events.push(event));
    const leadership = locks.elect('jobs', { ttl: 300, retry: 100 });
    await changeTo(leadership, true);
    const term = leadership.term as number;
    const signal = leadership.signal;
    const changes = firstValueFrom(leadership.changes.pipe(toArray()));
    await test.redis.del(`${test.prefix}{leader:jobs}`);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(signal.reason).toBeInstanceOf(LockLostError);
    await eventually(() => leadership.isLeader, 'it leads again');
    expect(leadership.term).toBeGreaterThan(term);
    await leadership.resign();
    expect(await changes).toEqual([true, false, true, false]);
    const leaderEvents = events.filter((event) => event.type === 'elected' || event.type === 'term-ended');
    expect(leaderEvents).toEqual([
      expect.objectContaining({ type: 'elected', name: 'jobs', term, fencingToken: term, keys: ['leader:jobs'] }),
      expect.objectContaining({ type: 'term-ended', name: 'jobs', term, reason: 'lost', led: expect.any(Number) }),
      expect.objectContaining({ type: 'elected', name: 'jobs', term: expect.any(Number) }),
      expect.objectContaining({ type: 'term-ended', name: 'jobs', reason: 'resigned' }),
    ]);
  });

  it('says isLeader false and no term at once when it wakes from a stall past its ttl, before any timer runs; then campaigns again', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', { ttl: 300, retry: 100 });
    await changeTo(leadership, true);
    const term = leadership.term as number;
    const ended = changeTo(leadership, false);
    stall(450);
    const woke = { isLeader: leadership.isLeader, term: leadership.term };
    expect(woke).toEqual({ isLeader: false, term: undefined });
    await ended;
    await eventually(() => leadership.isLeader, 'it leads again');
    expect(leadership.term).toBeGreaterThan(term);
  });

  it('reports a term that a stall ended before resign() as lost, not resigned', async () => {
    const { locks } = await boot('a');
    const ends: string[] = [];
    locks.events.subscribe((event) => event.type === 'term-ended' && ends.push(event.reason));
    const leadership = locks.elect('jobs', { ttl: 300, retry: 100 });
    await changeTo(leadership, true);
    const signal = leadership.signal;
    stall(450);
    const resigned = leadership.resign();
    expect(ends).toEqual(['lost']);
    expect((signal.reason as Error).message).toMatch(/lease .* ran out/);
    await resigned;
  });

  it('starts no term with a grant that a stall made worthless before it could lead (stalled between grant and term)', async () => {
    const store = new MemoryLockStore();
    const acquire = store.acquire.bind(store);
    let stalls = 1;
    store.acquire = async (...args) => {
      const result = await acquire(...args);
      if (result.acquired && stalls-- > 0) {
        stall(400);
      }
      return result;
    };
    const { locks } = await boot('a', { store });
    const events: LockEvent[] = [];
    locks.events.subscribe((event) => events.push(event));
    const leadership = locks.elect('jobs', { ttl: 300, retry: 100 });
    const changes = firstValueFrom(leadership.changes.pipe(toArray()));
    await changeTo(leadership, true);
    const [worthless, ...later] = events.filter((event) => event.type === 'acquired').map((event) => event.fencingToken);
    expect(later).toEqual([leadership.term]);
    expect(events.filter((event) => event.type === 'elected').map((event) => event.fencingToken)).toEqual([leadership.term]);
    expect(worthless).toBeLessThan(leadership.term as number);
    await leadership.resign();
    expect(await changes).toEqual([true, false]);
  });

  it('resign() from inside a changes subscriber ends the term it just began, and gives the lock back', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', LONG);
    const seen: boolean[] = [];
    leadership.changes.subscribe((leading) => {
      seen.push(leading);
      if (leading) {
        void leadership.resign();
      }
    });
    await eventually(() => seen.length === 2, 'the term ends');
    expect(seen).toEqual([true, false]);
    await leadership.resign();
    expect(await test.redis.exists(`${test.prefix}{leader:jobs}`)).toBe(0);
  });

  it('elect() right after resign(), before the lock is given back, starts a new campaign that leads with a higher term', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', LONG);
    await changeTo(leadership, true);
    const term = leadership.term as number;
    const resigned = leadership.resign();
    const next = locks.elect('jobs', LONG);
    expect(next).not.toBe(leadership);
    await resigned;
    await changeTo(next, true, 2_000);
    expect(next.term).toBeGreaterThan(term);
    expect(locks.elect('jobs')).toBe(next);
  });

  it('returns the running campaign for a name; other options are refused; after resign() a new campaign starts', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', { ttl: 1_000, retry: 100 });
    expect(locks.elect('jobs')).toBe(leadership);
    expect(locks.elect('jobs', { ttl: 1_000, retry: 100 })).toBe(leadership);
    expect(() => locks.elect('jobs', { ttl: 2_000 })).toThrow(/campaigns for "jobs" already \(ttl 1000, retry 100\)/);
    expect(() => locks.elect('jobs', { ttl: 1_000, retry: 100, signal: new AbortController().signal })).toThrow(InvalidLockOptionsError);
    await leadership.resign();
    const next = locks.elect('jobs', { ttl: 2_000 });
    expect(next).not.toBe(leadership);
    await changeTo(next, true);
  });

  it.each<[string, unknown, unknown, RegExp]>([
    ['an empty name', '', undefined, /name must not be empty or blank/],
    ['a blank name', '  ', undefined, /name must not be empty or blank/],
    ['a number as the name', 42, undefined, /name must be a string, got number 42/],
    ['no name', undefined, undefined, /name must be a string, got undefined/],
    ['a name too long for a key', 'n'.repeat(1020), undefined, /name is 1027 bytes long/],
    ['a ttl below 10 ms', 'jobs', { ttl: 5 }, /ttl must be a whole number of ms from 10/],
    ['a ttl given as a string', 'jobs', { ttl: '1000' }, /ttl must be a whole number of ms from 10 .*got "1000"/],
    ['a retry of 0', 'jobs', { retry: 0 }, /retry must be a whole number of ms from 10 to 2147483647, got number 0/],
    ['an endless retry', 'jobs', { retry: Infinity }, /retry must be a whole number .*got number Infinity/],
    ['an option of acquire()', 'jobs', { waitTimeout: 100 }, /unknown option\(s\) "waitTimeout"; allowed: ttl, retry, signal/],
    ['a signal that is not one', 'jobs', { signal: 'stop' }, /signal must be an AbortSignal/],
    ['options that are not an object', 'jobs', 1000, /must be an object, got number 1000/],
  ])('refuses %s with an InvalidLockOptionsError, before anything reaches Redis', async (_case, name, options, message) => {
    const { locks } = await boot('a');
    const elect = (): Leadership => locks.elect(name as string, options as never);
    expect(elect).toThrow(InvalidLockOptionsError);
    expect(elect).toThrow(message);
    await sleep(20);
    expect(await keysUnder(test.redis, test.prefix)).toEqual([]);
  });

  it('starts no campaign for a signal aborted already: nothing reaches Redis, changes completes, resign() resolves', async () => {
    const { locks } = await boot('a');
    const leadership = locks.elect('jobs', { signal: AbortSignal.abort() });
    expect(await firstValueFrom(leadership.changes.pipe(toArray()))).toEqual([]);
    await expect(leadership.resign()).resolves.toBeUndefined();
    await sleep(50);
    expect(leadership.isLeader).toBe(false);
    expect(await keysUnder(test.redis, test.prefix)).toEqual([]);
    expect(locks.elect('jobs')).not.toBe(leadership);
  });

  it('resigns when its signal aborts: the term ends and the name is free', async () => {
    const { locks } = await boot('a');
    const controller = new AbortController();
    const leadership = locks.elect('jobs', { ...LONG, signal: controller.signal });
    await changeTo(leadership, true);
    const done = firstValueFrom(leadership.changes.pipe(toArray()));
    controller.abort();
    expect(leadership.isLeader).toBe(false);
    expect(await done).toEqual([true, false]);
    await eventually(async () => (await test.redis.exists(`${test.prefix}{leader:jobs}`)) === 0, 'the name is free');
  });

  it('resign() during a campaign (before the first answer, and while queued) leaves nothing of the follower in Redis', async () => {
    const [a, b] = await Promise.all([boot('a'), boot('b')]);
    const leader = a.locks.elect('jobs', LONG);
    await changeTo(leader, true);
    const early = b.locks.elect('early', LONG);
    await early.resign();
    const queued = b.locks.elect('jobs', LONG);
    await eventually(async () => (await test.redis.zcard(`${test.prefix}{leader:jobs}:q`)) === 1, 'the follower is queued');
    await queued.resign();
    expect(await test.redis.zcard(`${test.prefix}{leader:jobs}:q`)).toBe(0);
    expect(queued.isLeader).toBe(false);
    await leader.resign();
    await sleep(100);
    expect(queued.isLeader).toBe(false);
    expect((await keysUnder(test.redis, test.prefix)).filter((key) => !key.endsWith(':fence'))).toEqual([]);
  });

  it('app.close() resigns a leader, which hands over at once, and a campaigning follower, which leaves the queue', async () => {
    const [a, b, c] = await Promise.all([boot('a'), boot('b'), boot('c')]);
    const first = a.locks.elect('jobs', LONG);
    await changeTo(first, true);
    const [second, third] = [b, c].map(({ locks }) => locks.elect('jobs', LONG));
    await eventually(async () => (await test.redis.zcard(`${test.prefix}{leader:jobs}:q`)) === 2, 'both followers are queued');
    const term = first.term as number;
    const startedAt = performance.now();
    await apps.splice(0, 1)[0].app.close();
    const next = await soleLeader([second, third], 1_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(next.term).toBeGreaterThan(term);
    const follower = next === second ? c : b;
    apps.splice(apps.indexOf(follower), 1);
    await follower.app.close();
    expect(await test.redis.zcard(`${test.prefix}{leader:jobs}:q`)).toBe(0);
    expect(() => follower.locks.elect('other')).toThrow(LockError);
    expect(() => follower.locks.elect('other')).toThrow(/shutting down/);
  });

  it('elects between apps sharing one MemoryLockStore, and hands over on resign()', async () => {
    const store = new MemoryLockStore();
    const [a, b] = await Promise.all([boot('a', { store }), boot('b', { store })]);
    const first = a.locks.elect('jobs', LONG);
    await changeTo(first, true);
    const second = b.locks.elect('jobs', LONG);
    await eventually(() => second.leader?.startsWith('a@') ?? false, 'the follower names the leader', 12_000);
    const term = first.term as number;
    await first.resign();
    await changeTo(second, true, 1_000);
    expect(second.term).toBeGreaterThan(term);
  }, 20_000);
});

describe('LockService.elect() against a Redis that is down when the app starts', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('a term whose key vanished with a Redis restart ends lost, and a new, higher term follows', async () => {
    const { app, locks } = await bootLockApp({ redis: server.url, commandTimeout: 300 });
    try {
      const leadership = locks.elect('jobs', { ttl: 600, retry: 100 });
      await changeTo(leadership, true);
      const term = leadership.term as number;
      const ended = changeTo(leadership, false);
      await server.restart();
      await ended;
      await eventually(() => leadership.isLeader, 'it leads again');
      expect(leadership.term).toBeGreaterThan(term);
    } finally {
      await app.close();
    }
  });

  it('resign() while the winning attempt is held up in Redis (CLIENT PAUSE) starts no term and leaves the name free', async () => {
    const { app, locks } = await bootLockApp({ redis: server.url, commandTimeout: 2_000 });
    const admin = new Redis(server.url);
    try {
      const events: LockEvent[] = [];
      locks.events.subscribe((event) => events.push(event));
      await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
      const leadership = locks.elect('paused', { ttl: 5_000, retry: 1_000 });
      await sleep(100);
      await leadership.resign();
      await sleep(400);
      expect(events.filter((event) => event.type === 'elected')).toEqual([]);
      expect(leadership.isLeader).toBe(false);
      expect(await admin.exists('lock:{leader:paused}')).toBe(0);
    } finally {
      admin.disconnect();
      await app.close();
    }
  });

  it('campaigns until Redis answers, then leads; no unhandled rejection, one outage line', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const lines: string[] = [];
    const logger = { log: () => undefined, warn: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };
    const restarted = server.restart(1_500);
    const { app, locks } = await bootLockApp({ redis: server.url, logger, commandTimeout: 200 });
    const leadership = locks.elect('jobs', { ttl: 1_000, retry: 100 });
    await sleep(500);
    expect(leadership.isLeader).toBe(false);
    await restarted;
    await changeTo(leadership, true, 10_000);
    await app.close();
    process.off('unhandledRejection', onRejection);
    expect(rejections).toEqual([]);
    expect(lines.filter((line) => /unreachable|not reach|connection/i.test(line)).length).toBeLessThanOrEqual(2);
  }, 20_000);
});

describe('LockService.elect() in quorum mode (3 redis-servers)', () => {
  let nodes: RedisServer[];
  const apps: LockApp[] = [];

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer()));
  });

  afterAll(async () => {
    await Promise.all(apps.map(({ app }) => app.close()));
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('elects one leader, names it for the follower, and hands over on resign() with a higher term', async () => {
    const redis = nodes.map((node) => node.url);
    apps.push(...(await Promise.all(['a', 'b'].map((appName) => bootLockApp({ redis, appName })))));
    await expectElectionAndHandOver(apps.map(({ locks }) => locks.elect('jobs', { ttl: 3_000, retry: 200 })));
  });
});

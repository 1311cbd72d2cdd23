import { hostname } from 'node:os';
import { bootLockApp } from '../support/app';
import { cli, cliOnTerminal } from '../support/cli';
import { REDIS_URL, useTestRedis } from '../support/redis';

describe('the nest-lock CLI', () => {
  const test = useTestRedis('cli');

  it('inspect lists held locks with key, holder (app, host, pid), remaining TTL, fencing token and waiter count', async () => {
    const holder = await bootLockApp({ prefix: test.prefix, appName: 'orders api' });
    const waiter = await bootLockApp({ prefix: test.prefix });
    const lock = await holder.locks.acquire('report:42', { ttl: 30_000 });
    const waiting = waiter.locks.acquire('report:42', { waitTimeout: 20_000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const shown = await cli(['inspect', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/KEY\s+MODE\s+HOLDER\s+TTL\s+FENCING\s+WAITERS/);
    const who = `orders_api@${hostname().replace(/[^\w.-]/g, '_')}:${process.pid}`;
    expect(lock.token.startsWith(`${who}/`)).toBe(true);
    expect(shown.stdout).toMatch(
      new RegExp(`report:42\\s+exclusive\\s+${who.replace(/\./g, '\\.')}\\s+\\d+ ms\\s+${lock.fencingToken}\\s+1`),
    );

    const json = JSON.parse((await cli(['inspect', '--json', '--redis', REDIS_URL, '--prefix', test.prefix])).stdout);
    expect(json).toEqual([
      {
        key: 'report:42',
        mode: 'write',
        limit: 1,
        holders: [
          { token: lock.token, app: 'orders_api', host: hostname().replace(/[^\w.-]/g, '_'), pid: process.pid, ttl: expect.any(Number) },
        ],
        holder: lock.token,
        holderApp: 'orders_api',
        holderHost: hostname().replace(/[^\w.-]/g, '_'),
        holderPid: process.pid,
        ttl: expect.any(Number),
        fencingToken: lock.fencingToken,
        waiters: 1,
      },
    ]);

    await lock.release();
    const next = await waiting;
    await (next as { release(): Promise<boolean> }).release();
    await Promise.all([holder.app.close(), waiter.app.close()]);
  }, 30_000);

  it('inspect lists every reader and permit holder with the mode and limit, and release --token frees one of them', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix, appName: 'pool' });
    const permits = [await locks.acquire('stripe-api', { limit: 3 }), await locks.acquire('stripe-api', { limit: 3 })];
    const readers = [await locks.acquire('doc:7', { mode: 'read' }), await locks.acquire('doc:7', { mode: 'read' })];
    const writer = locks.acquire('doc:7', { waitTimeout: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const shown = await cli(['inspect', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(shown.stdout).toMatch(/doc:7\s+read \(2\)\s+pool@\S+\s+\d+ ms\s+\d+\s+1\n\s+pool@\S+\s+\d+ ms\n/);
    expect(shown.stdout).toMatch(/stripe-api\s+semaphore 2\/3\s+pool@\S+\s+\d+ ms\s+\d+\s+0\n\s+pool@\S+\s+\d+ ms/);
    const json = JSON.parse((await cli(['inspect', '--json', '--redis', REDIS_URL, '--prefix', test.prefix])).stdout);
    expect(json).toEqual([
      expect.objectContaining({
        key: 'doc:7',
        mode: 'read',
        limit: null,
        waiters: 1,
        holders: expect.arrayContaining(readers.map((r) => expect.objectContaining({ token: r.token }))),
      }),
      expect.objectContaining({
        key: 'stripe-api',
        mode: 'write',
        limit: 3,
        waiters: 0,
        holders: expect.arrayContaining(permits.map((p) => expect.objectContaining({ token: p.token }))),
      }),
    ]);
    expect(json.map((lock: { holders: unknown[] }) => lock.holders.length)).toEqual([2, 2]);

    const ambiguous = await cli(['release', 'stripe-api', '--force', '--yes', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/has 2 holders \(semaphore 2\/3\); name the one to release with --token/);
    const one = await cli([
      'release',
      'stripe-api',
      '--force',
      '--yes',
      '--token',
      permits[0].token,
      '--redis',
      REDIS_URL,
      '--prefix',
      test.prefix,
    ]);
    expect(one.code).toBe(0);
    expect(await permits[0].extend().catch((error: Error) => error.name)).toBe('LockLostError');
    for (const reader of readers) {
      await cli(['release', 'doc:7', '--force', '--yes', '--token', reader.token, '--redis', REDIS_URL, '--prefix', test.prefix]);
    }
    await (await writer).release();
    await permits[1].release();
    await app.close();
  }, 30_000);

  it('release KEY --force asks for confirmation on a terminal, and --yes releases without asking', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const lock = await locks.acquire('stuck', { ttl: 60_000 });

    const declined = await cliOnTerminal(['release', 'stuck', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'n\n');
    expect(declined.stdout).toMatch(/Force-release lock "stuck" held by .*\? \[y\/N\]/);
    expect(declined.stdout).toMatch(/Nothing released/);
    expect(declined.code).toBe(1);
    expect(await locks.isLocked('stuck')).toBe(true);

    const confirmed = await cliOnTerminal(['release', 'stuck', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'y\n');
    expect(confirmed.stdout).toMatch(/Released lock "stuck"/);
    expect(confirmed.code).toBe(0);
    expect(await locks.isLocked('stuck')).toBe(false);

    await locks.acquire('stuck-too');
    const yes = await cli(['release', 'stuck-too', '--force', '--yes', '--redis', REDIS_URL, '--prefix', test.prefix]);
    expect(yes.stdout).toMatch(/Released lock "stuck-too"/);
    expect(await locks.isLocked('stuck-too')).toBe(false);
    expect(await lock.release()).toBe(false);
    await app.close();
  }, 30_000);

  it('release --force without a terminal and without --yes exits 1 saying nothing was released', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const lock = await locks.acquire('piped', { ttl: 60_000 });
    const piped = await cli(['release', 'piped', '--force', '--redis', REDIS_URL, '--prefix', test.prefix], 'y\n');
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/Nothing released: .*pass --yes/);
    expect(await locks.isLocked('piped')).toBe(true);
    await lock.release();
    await app.close();
  }, 30_000);

  it('refuses release without --force, and reports an unreachable Redis', async () => {
    const noForce = await cli(['release', 'k', '--redis', REDIS_URL]);
    expect(noForce.code).toBe(2);
    expect(noForce.stderr).toMatch(/release needs a KEY and --force/);
    const unreachable = await cli(['inspect', '--redis', 'redis://:s3cret@127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/nest-lock: .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/s3cret/);
  }, 30_000);
});

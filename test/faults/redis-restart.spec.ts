import { LockLostError, LockNotAcquiredError, LockStoreUnavailableError, type Lock } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('Redis shut down (nothing saved) and restarted while locks are held and waited for', () => {
  let server: RedisServer;
  const apps: LockApp[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedisServer();
    for (let i = 0; i < 3; i += 1) {
      apps.push(await bootLockApp({ redis: server.url, commandTimeout: 300 }));
    }
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.app.close()));
    await server.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('aborts holders, lets waiters acquire after the restart or fail by their deadline, and locks again after', async () => {
    const [holderApp, patientApp, hastyApp] = apps;
    const holder = await holderApp.locks.acquire('restart', { ttl: 1_500 });
    const patient = patientApp.locks.acquire('restart', { waitTimeout: 8_000 }).then(
      (lock) => ({ lock, at: Date.now() }),
      (error: unknown) => ({ error, at: Date.now() }),
    );
    const hasty = hastyApp.locks.acquire('restart', { waitTimeout: 700 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const downAt = Date.now();
    await server.restart(1_000);

    await new Promise((resolve) => (holder.signal.aborted ? resolve(undefined) : holder.signal.addEventListener('abort', resolve)));
    expect(holder.signal.reason).toBeInstanceOf(LockLostError);

    const hastyOutcome = await hasty;
    expect([LockNotAcquiredError, LockStoreUnavailableError].some((type) => hastyOutcome instanceof type)).toBe(true);

    const patientOutcome = await patient;
    expect('lock' in patientOutcome).toBe(true);
    expect(patientOutcome.at - downAt).toBeGreaterThanOrEqual(1_000);
    await (patientOutcome as { lock: Lock }).lock.release();

    const again = await hastyApp.locks.acquire('restart-after', { waitTimeout: 2_000 });
    expect(again.isHeld).toBe(true);
    await again.release();
    expect(await holder.release()).toBe(false);
    expect(unhandled).toEqual([]);
  }, 30_000);
});

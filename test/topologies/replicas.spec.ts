import { Redis } from 'ioredis';
import { LockNotReplicatedError } from '../../lib';
import { bootLockApp, type LockApp } from '../support/app';
import { eventually } from '../support/redis';
import { startRedisServer, waitForReplicaSync, type RedisServer } from '../support/redis-server';

describe('replicas option: WAIT for replicas after acquire and release (1 master, 1 replica)', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let replicaClient: Redis;
  let masterClient: Redis;
  let subject: LockApp;

  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
    replicaClient = new Redis(replica.url);
    masterClient = new Redis(master.url);
    await waitForReplicaSync(replica.url);
    subject = await bootLockApp({ redis: master.url, replicas: { count: 1, timeoutMs: 300 } });
  }, 30_000);

  afterAll(async () => {
    replica?.thaw();
    await subject?.app.close();
    replicaClient?.disconnect();
    masterClient?.disconnect();
    await replica?.stop();
    await master?.stop();
  });

  it('acquires once the replica has the lock, and releases once it has the release', async () => {
    const lock = await subject.locks.acquire('replicated');
    expect(await replicaClient.get('lock:{replicated}')).toBe(lock.token);
    expect(await lock.release()).toBe(true);
    expect(await replicaClient.exists('lock:{replicated}')).toBe(0);
  });

  it('does not give a waiter the lock handed to it while the replica cannot confirm the hand-off', async () => {
    const holder = await subject.locks.acquire('handed');
    const waiter = await bootLockApp({ redis: master.url, replicas: { count: 1, timeoutMs: 300 } });
    try {
      const waiting = waiter.locks.acquire('handed', { waitTimeout: 5_000 }).catch((e: unknown) => e);
      await eventually(
        async () =>
          (await masterClient.zcard('lock:{handed}:q')) === 1 &&
          Number(((await masterClient.pubsub('NUMSUB', 'lock:{handed}')) as [string, number])[1]) === 1,
        'the waiter is queued and listening',
      );
      replica.freeze();
      await holder.release().catch(() => undefined);
      const outcome = await waiting;
      expect(outcome).toBeInstanceOf(LockNotReplicatedError);
      expect(await waiter.locks.isLocked('handed')).toBe(false);
    } finally {
      replica.thaw();
      await waiter.app.close();
      await waitForReplicaSync(replica.url);
    }
  });

  it('fails the acquisition with LockNotReplicatedError, and gives the lock back, when the replica does not confirm', async () => {
    replica.freeze();
    const started = Date.now();
    const error = await subject.locks.acquire('unreplicated', { waitTimeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockNotReplicatedError);
    expect((error as LockNotReplicatedError).confirmed).toBe(0);
    expect((error as Error).message).toMatch(/only 0 of 1 replica\(s\) confirmed the acquire in time, so it was given back/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await subject.locks.isLocked('unreplicated')).toBe(false);
    replica.thaw();
    await waitForReplicaSync(replica.url);
    const lock = await subject.locks.acquire('unreplicated');
    await lock.release();
  });

  it('gives an unreplicated acquisition back without waiting for the replicas a second time: a failed attempt costs one WAIT', async () => {
    replica.freeze();
    try {
      const started = Date.now();
      const error = await subject.locks.tryAcquire('unreplicated-once').catch((e: unknown) => e);
      const took = Date.now() - started;
      expect(error).toBeInstanceOf(LockNotReplicatedError);
      expect(await subject.locks.isLocked('unreplicated-once')).toBe(false);
      // One WAIT of timeoutMs (300 ms); the give-back used to WAIT 300 ms more.
      expect(took).toBeLessThan(300 + 200);
    } finally {
      replica.thaw();
      await waitForReplicaSync(replica.url);
    }
  });
});

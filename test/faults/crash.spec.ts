import { spawnWorker } from '../processes/run-worker';
import { bootLockApp, type LockApp } from '../support/app';
import { startRedisServer, type RedisServer } from '../support/redis-server';

describe('a holder killed with SIGKILL', () => {
  let server: RedisServer;
  let subject: LockApp;

  beforeAll(async () => {
    server = await startRedisServer();
    subject = await bootLockApp({ redis: server.url });
  });

  afterAll(async () => {
    await subject.app.close();
    await server.stop();
  });

  it('leaves the lock to another process within its TTL plus a small margin', async () => {
    const holder = spawnWorker('../faults/holder', [server.url, 'crashed', '1000']);
    await new Promise((resolve) => holder.stdout?.once('data', resolve));
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    const lock = await subject.locks.acquire('crashed', { waitTimeout: 5_000 });
    expect(Date.now() - killedAt).toBeLessThan(1_000 + 300);
    await lock.release();
  }, 20_000);

  it('gives the permits of killed semaphore holders back within their TTL plus a small margin', async () => {
    const holders = [0, 1].map(() => spawnWorker('../faults/holder', [server.url, 'permits', '1000', '3', '1']));
    const live = await subject.locks.acquire('permits', { limit: 3 });
    await Promise.all(holders.map((holder) => new Promise((resolve) => holder.stdout?.once('data', resolve))));
    await expect(subject.locks.tryAcquire('permits', { limit: 3 })).resolves.toBeNull();
    await Promise.all(holders.map((holder) => new Promise((resolve) => (holder.once('exit', resolve), holder.kill('SIGKILL')))));
    const killedAt = Date.now();
    const permits = [await subject.locks.acquire('permits', { limit: 3, waitTimeout: 5_000 })];
    permits.push(await subject.locks.acquire('permits', { limit: 3, waitTimeout: 5_000 }));
    expect(Date.now() - killedAt).toBeLessThan(1_000 + 300);
    await Promise.all([live, ...permits].map((permit) => permit.release()));
  }, 20_000);
});

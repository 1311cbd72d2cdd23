import { spawnWorker } from '../processes/run-worker';
import { bootLockApp } from '../support/app';
import { useRedisServer } from '../support/redis-server';
import { FENCED_WRITE } from './fenced-resource';

// A lease alone does not give mutual exclusion when the holder pauses past its TTL; fencing on the resource does.
describe.each([
  ['a holder', 1],
  ['a semaphore permit holder', 3],
])('%s frozen past its TTL (SIGSTOP)', (_name, limit) => {
  const own = useRedisServer();

  it('has its stale write rejected by the fenced resource, and sees its signal aborted', async () => {
    const holder = spawnWorker('../faults/fenced-holder', [own.server.url, '500', '400', String(limit)]);
    let output = '';
    holder.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    holder.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => holder.on('close', resolve));
    while (!output.includes('acquired')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    holder.kill('SIGSTOP');

    // Every permit of the key: the last one is free only once the frozen holder's lease has run out.
    const other = await bootLockApp({ redis: own.server.url, ttl: 5_000 });
    const permits = [];
    for (let i = 0; i < limit; i += 1) {
      permits.push(await other.locks.acquire('fenced', { waitTimeout: 5_000, limit }));
    }
    const lock = permits[permits.length - 1];
    expect(await own.redis.eval(FENCED_WRITE, 1, 'resource', lock.fencingToken, 'written by the new holder')).toBe(1);

    holder.kill('SIGCONT');
    await exited;
    await Promise.all(permits.map((permit) => permit.release()));
    await other.app.close();

    const staleToken = Number(/acquired (\d+)/.exec(output)?.[1]);
    expect(staleToken).toBeLessThan(lock.fencingToken);
    expect(output).toContain('write rejected; signal aborted: LockLostError');
    expect(await own.redis.hget('resource', 'rejected')).toBe('1');
    expect(await own.redis.hget('resource', 'value')).toBe('written by the new holder');
  }, 30_000);
});

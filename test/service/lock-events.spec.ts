import { setTimeout as sleep } from 'node:timers/promises';
import { LockLostError, type LockEvent } from '../../lib';
import { bootLockApp } from '../support/app';
import { useTestRedis } from '../support/redis';

describe('LockService.events', () => {
  const test = useTestRedis('events');

  it('reports acquired (with the wait), extended, busy, released (with the hold time) and lost', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const events: LockEvent[] = [];
    let completed = false;
    locks.events.subscribe({ next: (event) => events.push(event), complete: () => (completed = true) });

    const lock = await locks.acquire('evented', { ttl: 5_000 });
    await lock.extend(6_000);
    await locks.acquire('evented', { waitTimeout: 50 }).catch(() => undefined);
    await sleep(20);
    await lock.release();
    const doomed = await locks.acquire('doomed', { ttl: 100, autoExtend: false });
    await new Promise((resolve) => doomed.signal.addEventListener('abort', resolve));
    await app.close();

    expect(events.map((event) => event.type)).toEqual(['acquired', 'extended', 'busy', 'released', 'acquired', 'lost']);
    const [acquired, extended, busy, released, , lost] = events;
    expect(acquired).toMatchObject({ keys: ['evented'], token: lock.token, fencingToken: lock.fencingToken, waited: expect.any(Number) });
    expect(extended).toMatchObject({ token: lock.token, ttl: 6_000 });
    expect(busy).toMatchObject({ keys: ['evented'] });
    expect(busy.type === 'busy' && busy.waited).toBeGreaterThanOrEqual(45);
    expect(released.type === 'released' && released.held).toBeGreaterThanOrEqual(60);
    expect(lost).toMatchObject({ keys: ['doomed'], token: doomed.token, reason: expect.any(LockLostError) });
    expect(completed).toBe(true);
  });
});

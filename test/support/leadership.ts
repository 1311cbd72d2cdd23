import { filter, firstValueFrom, timeout } from 'rxjs';
import type { Leadership } from '../../lib';
import { eventually } from './redis';

/**
 * Resolves when `leadership.changes` says `value` (at once for `true` if a term runs), and fails after `within` ms.
 * @param leadership the campaign
 * @param value true to wait for a term to start, false for one to end
 * @param within ms
 */
export function changeTo(leadership: Leadership, value: boolean, within = 10_000): Promise<boolean> {
  return firstValueFrom(
    leadership.changes.pipe(
      filter((leading) => leading === value),
      timeout(within),
    ),
  );
}

/**
 * The one campaign that leads, once exactly one of them does; fails after `within` ms.
 * @param campaigns the campaigns of several apps for one name
 * @param within ms
 */
export async function soleLeader(campaigns: readonly Leadership[], within = 10_000): Promise<Leadership> {
  const deadline = Date.now() + within;
  for (;;) {
    const leaders = campaigns.filter((campaign) => campaign.isLeader);
    if (leaders.length === 1) {
      return leaders[0];
    }
    if (Date.now() > deadline) {
      throw new Error(`expected exactly one leader, found ${leaders.length}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Spins the event loop's thread for `ms` without giving timers or I/O a turn (a GC pause, a CPU-bound handler).
 * @param ms how long
 */
export function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/**
 * Checks an election between apps (each campaign from another app, each app with its own `appName`): exactly one
 * leads, the others name it as the leader, and its resignation hands the name to one of them at once, with a higher
 * term.
 * @param campaigns each app's campaign for one name
 */
export async function expectElectionAndHandOver(campaigns: readonly Leadership[]): Promise<void> {
  const leader = await soleLeader(campaigns);
  const followers = campaigns.filter((campaign) => campaign !== leader);
  await eventually(() => followers.every((follower) => follower.leader === leader.leader), 'the followers name the leader', 5_000);
  const term = leader.term as number;
  await leader.resign();
  const next = await soleLeader(followers, 2_000);
  expect(next.term).toBeGreaterThan(term);
  expect(leader.isLeader).toBe(false);
}

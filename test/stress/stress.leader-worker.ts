// One stress worker of the leader mode: a Nest app that campaigns for the name `L` with random timings, writes to the
// referee's fenced resource with its term while it leads, resigns at random and campaigns again, and reports every
// term's start and end to the runner over IPC.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Leadership } from '../../lib';
import { runStressWorker } from './stress.worker-app';

runStressWorker(async ({ config, locks, checker, random, pick, send, stopping }) => {
  locks.events.subscribe((event) => {
    if (event.type === 'term-ended') {
      send({ type: 'term-ended', worker: config.id, term: event.term, at: Date.now(), reason: event.reason });
    }
  });

  /** The leader's work: fenced writes with its term for as long as it leads that term. */
  const lead = async (leadership: Leadership, term: number): Promise<void> => {
    while (leadership.isLeader && leadership.term === term) {
      await checker.write('L', term);
      await sleep(5 + Math.floor(random() * 30));
    }
  };

  send({ type: 'ready', worker: config.id });
  while (!stopping()) {
    const leadership = locks.elect('L', { ttl: pick([300, 600, 1_000]), retry: pick([100, 200, 400]) });
    leadership.changes.subscribe((leading) => {
      const term = leadership.term;
      if (leading && term !== undefined) {
        send({ type: 'elected', worker: config.id, term, at: Date.now() });
        void lead(leadership, term);
      }
    });
    await sleep(200 + Math.floor(random() * 1_500));
    if (!stopping() || random() < 0.5) {
      // Otherwise the app's shutdown resigns it.
      await leadership.resign();
      await sleep(Math.floor(random() * 200));
    }
  }
});

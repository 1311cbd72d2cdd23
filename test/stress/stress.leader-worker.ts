// One stress worker of the leader mode: a Nest app that campaigns for the name `L` with random timings, writes to the
// referee's fenced resource with its term while it leads, resigns at random and campaigns again, and reports every
// term's start and end to the runner over IPC.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockModule, LockService, type Leadership } from '../../lib';
import { Checker } from './stress.checker';
import { generator } from './stress.random';
import type { StressReport, WorkerConfig } from './stress.protocol';

const config = JSON.parse(process.argv[2]) as WorkerConfig;
const random = generator(config.seed);
const pick = <T>(choices: readonly T[]): T => choices[Math.floor(random() * choices.length)];
const send = (report: StressReport): void => void process.send?.(report);

@Module({
  imports: [
    LockModule.forRoot({
      redis: config.redis,
      prefix: config.prefix,
      commandTimeout: config.commandTimeout,
      logger: false,
      ...config.settings,
    }),
  ],
})
class StressLeaderModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(StressLeaderModule, { logger: false });
  const locks = app.get(LockService);
  const checker = new Checker(new Redis(config.checkerUrl), config.checkerPrefix);
  let stopping = false;
  process.on('unhandledRejection', (reason) => send({ type: 'violation', what: `unhandled rejection: ${String(reason)}` }));
  process.on('message', (message) => {
    if (message === 'stop') {
      stopping = true;
    }
  });
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
  while (!stopping) {
    const leadership = locks.elect('L', { ttl: pick([300, 600, 1_000]), retry: pick([100, 200, 400]) });
    leadership.changes.subscribe((leading) => {
      const term = leadership.term;
      if (leading && term !== undefined) {
        send({ type: 'elected', worker: config.id, term, at: Date.now() });
        void lead(leadership, term);
      }
    });
    await sleep(200 + Math.floor(random() * 1_500));
    if (!stopping || random() < 0.5) {
      // Otherwise the app's shutdown resigns it.
      await leadership.resign();
      await sleep(Math.floor(random() * 200));
    }
  }
  await app.close();
  await checker.close();
  process.send?.({ type: 'stopped', worker: config.id } satisfies StressReport, () => process.disconnect());
}

main().catch((error: unknown) => {
  send({ type: 'violation', what: `worker crashed: ${error instanceof Error ? error.stack : String(error)}` });
  process.exitCode = 1;
});

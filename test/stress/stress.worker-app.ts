// What every stress worker shares: its settings, its seeded randomness, its Nest app and referee connection, the
// runner's stop message, and the way it reports (IPC) and ends.
import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { LockModule, LockService } from '../../lib';
import { Checker } from './stress.checker';
import { generator } from './stress.random';
import type { StressReport, WorkerConfig } from './stress.protocol';

/** A running stress worker. */
export interface StressWorker {
  readonly config: WorkerConfig;
  readonly app: INestApplicationContext;
  readonly locks: LockService;
  readonly checker: Checker;
  /** The worker's seeded generator, in [0, 1). */
  random(): number;
  pick<T>(choices: readonly T[]): T;
  send(report: StressReport): void;
  /** Whether the runner asked the worker to stop. */
  stopping(): boolean;
}

/**
 * Runs a stress worker: boots its app (LockModule with the run's settings), calls `work` until it resolves, then closes
 * the app and tells the runner it stopped; a crash or an unhandled rejection is reported as a violation.
 * @param work the worker's loops
 */
export function runStressWorker(work: (worker: StressWorker) => Promise<void>): void {
  const config = JSON.parse(process.argv[2]) as WorkerConfig;
  const random = generator(config.seed);
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
  class StressModule {}

  const main = async (): Promise<void> => {
    const app = await NestFactory.createApplicationContext(StressModule, { logger: false });
    const checker = new Checker(new Redis(config.checkerUrl), config.checkerPrefix);
    let stopping = false;
    process.on('unhandledRejection', (reason) => send({ type: 'violation', what: `unhandled rejection: ${String(reason)}` }));
    process.on('message', (message) => {
      if (message === 'stop') {
        stopping = true;
      }
    });
    await work({
      config,
      app,
      locks: app.get(LockService),
      checker,
      random,
      pick: (choices) => choices[Math.floor(random() * choices.length)],
      send,
      stopping: () => stopping,
    });
    await app.close();
    await checker.close();
    process.send?.({ type: 'stopped', worker: config.id } satisfies StressReport, () => process.disconnect());
  };
  main().catch((error: unknown) => {
    send({ type: 'violation', what: `worker crashed: ${error instanceof Error ? error.stack : String(error)}` });
    process.exitCode = 1;
  });
}

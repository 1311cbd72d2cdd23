// What every stress worker shares: its settings, its seeded randomness, its Nest app and referee connection, the
// runner's stop message, and the way it reports (IPC) and ends.
import 'reflect-metadata';
import { Injectable, Module, type INestApplicationContext, type OnApplicationShutdown } from '@nestjs/common';
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
  /** Whether the runner asked the worker to stop, or the app is closing. */
  stopping(): boolean;
  /** Resolves when the runner asks the worker to shut down mid-work: close the app then, with `close()`; the loops end. */
  readonly shutdownAsked: Promise<void>;
  /** Closes the app while the work goes on (once; the worker ends when the work has ended too). */
  close(): Promise<void>;
  /** Whether the app is closing or closed. */
  closing(): boolean;
  /**
   * Has the app's shutdown wait for `work` under a lock taken with `acquire()` (before LockService releases what is
   * left), as an app's own `onApplicationShutdown` does: its signal has aborted by then.
   */
  finishOnShutdown(work: Promise<unknown>): void;
}

/** Work under `acquire()`d locks the app's shutdown waits for: the root module's hook runs before LockService's. */
@Injectable()
class ManualWork implements OnApplicationShutdown {
  readonly running = new Set<Promise<unknown>>();

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
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
    providers: [ManualWork],
  })
  class StressModule {}

  const main = async (): Promise<void> => {
    const app = await NestFactory.createApplicationContext(StressModule, { logger: false });
    const checker = new Checker(new Redis(config.checkerUrl), config.checkerPrefix);
    let stopping = false;
    let closing: Promise<void> | undefined;
    let askShutdown: () => void = () => undefined;
    const shutdownAsked = new Promise<void>((resolve) => (askShutdown = resolve));
    const manual = app.get(ManualWork).running;
    process.on('unhandledRejection', (reason) => send({ type: 'violation', what: `unhandled rejection: ${String(reason)}` }));
    process.on('message', (message) => {
      if (message === 'stop') {
        stopping = true;
      } else if (message === 'shutdown') {
        askShutdown();
      }
    });
    const close = (): Promise<void> => (closing ??= app.close());
    await work({
      config,
      app,
      locks: app.get(LockService),
      checker,
      random,
      pick: (choices) => choices[Math.floor(random() * choices.length)],
      send,
      stopping: () => stopping || closing !== undefined,
      shutdownAsked,
      close,
      closing: () => closing !== undefined,
      finishOnShutdown: (running) => {
        manual.add(running);
        void running.finally(() => manual.delete(running)).catch(() => undefined);
      },
    });
    await close();
    await checker.close();
    process.send?.({ type: 'stopped', worker: config.id } satisfies StressReport, () => process.disconnect());
  };
  main().catch((error: unknown) => {
    send({ type: 'violation', what: `worker crashed: ${error instanceof Error ? error.stack : String(error)}` });
    process.exitCode = 1;
  });
}

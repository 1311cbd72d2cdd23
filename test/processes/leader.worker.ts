// One app instance campaigning for a name (LockService.elect) in its own process, with shutdown hooks. It prints what
// happens as JSON lines (ready, elected, ended, resigned, closing, run), each stamped when `changes` or `events` said
// so, and takes commands on stdin (resign, elect, stall <ms>). Optionally it runs a @Cron job under @LeaderOnly.
import 'reflect-metadata';
import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { createInterface } from 'node:readline';
import { LeaderOnly, LockModule, LockService, type Leadership } from '../../lib';
import { stall } from '../support/leadership';

/** The worker's settings, its only argument (JSON). */
export interface LeaderWorkerConfig {
  redis: string;
  prefix: string;
  name: string;
  ttl: number;
  retry: number;
  appName?: string;
  /** Run a @Cron job every second under @LeaderOnly('ticks', { ttl: 2000, retry: 300 }) (give the same name and timings). */
  job?: boolean;
}

/** What the worker prints, one JSON object per line. */
export interface LeaderWorkerLine {
  event: 'ready' | 'elected' | 'ended' | 'resigned' | 'closing' | 'run';
  pid: number;
  /** Epoch ms when it was printed. */
  at: number;
  /** The term that started or ended. */
  term?: number;
  /** How the term ended. */
  reason?: 'resigned' | 'lost';
}

const config = JSON.parse(process.argv[2]) as LeaderWorkerConfig;
const print = (line: Omit<LeaderWorkerLine, 'pid' | 'at'>): void =>
  void process.stdout.write(`${JSON.stringify({ ...line, pid: process.pid, at: Date.now() })}\n`);

@Injectable()
class EverySecond {
  @Cron('* * * * * *')
  @LeaderOnly('ticks', { ttl: 2_000, retry: 300 })
  async run(): Promise<void> {
    print({ event: 'run' });
  }
}

@Module({})
class LeaderWorkerModule {}

function appModule(): DynamicModule {
  return {
    module: LeaderWorkerModule,
    imports: [
      LockModule.forRoot({ redis: config.redis, prefix: config.prefix, appName: config.appName, logger: false }),
      ...(config.job ? [ScheduleModule.forRoot()] : []),
    ],
    providers: config.job ? [EverySecond] : [],
  };
}
async function main(): Promise<void> {
  // Before Nest's own listener (enableShutdownHooks): the moment the close begins.
  process.once('SIGTERM', () => print({ event: 'closing' }));
  const app = await NestFactory.createApplicationContext(appModule(), { logger: false });
  app.enableShutdownHooks();
  const locks = app.get(LockService);
  const campaign = (): Leadership => {
    const leadership = locks.elect(config.name, { ttl: config.ttl, retry: config.retry });
    let term: number | undefined;
    leadership.changes.subscribe((leading) => {
      if (leading) {
        term = leadership.term;
        print({ event: 'elected', term });
      }
    });
    locks.events.subscribe((event) => {
      if (event.type === 'term-ended' && event.term === term) {
        print({ event: 'ended', term: event.term, reason: event.reason });
      }
    });
    return leadership;
  };
  let leadership = campaign();
  print({ event: 'ready' });
  for await (const command of createInterface({ input: process.stdin })) {
    const [verb, argument] = command.trim().split(' ');
    if (verb === 'resign') {
      await leadership.resign();
      print({ event: 'resigned' });
    } else if (verb === 'elect') {
      leadership = campaign();
    } else if (verb === 'stall') {
      stall(Number(argument));
    }
  }
}

void main();

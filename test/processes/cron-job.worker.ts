// One app instance with a 1 ms @Cron job guarded by @Locked({ onBusy: 'skip' }); prints each run as a JSON line.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Locked, LockModule } from '../../lib';

const [redisUrl, prefix, minHold] = process.argv.slice(2);

@Injectable()
class EverySecond {
  @Cron('* * * * * *')
  @Locked('every-second', { onBusy: 'skip', ...(minHold === undefined ? {} : { minHold: Number(minHold) }) })
  async run(): Promise<void> {
    process.stdout.write(`${JSON.stringify({ pid: process.pid, at: Date.now() })}\n`);
  }
}

@Module({
  imports: [LockModule.forRoot({ redis: redisUrl, prefix, logger: false }), ScheduleModule.forRoot()],
  providers: [EverySecond],
})
class CronModule {}

void NestFactory.createApplicationContext(CronModule, { logger: false }).then((app) => {
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
});

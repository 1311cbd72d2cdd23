// A lock holder that writes to the fenced resource some time after taking the lock, then reports what happened.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { LockModule, LockService } from '../../lib';
import { FENCED_WRITE } from './fenced-resource';
import { runMain } from '../support/worker-main';

const [url, ttl, writeAfter, limit = 1] = process.argv.slice(2).map((value, index) => (index === 0 ? value : Number(value))) as [
  string,
  number,
  number,
  number?,
];

@Module({ imports: [LockModule.forRoot({ redis: url, logger: false, ttl })] })
class HolderModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(HolderModule, { logger: false });
  const resource = new Redis(url);
  await app.get(LockService).using(
    'fenced',
    async (lock) => {
      process.stdout.write(`acquired ${lock.fencingToken}\n`);
      await new Promise((resolve) => setTimeout(resolve, writeAfter));
      const accepted = await resource.eval(FENCED_WRITE, 1, 'resource', lock.fencingToken, 'written by the paused holder');
      // Give the watchdog's overdue extension time to come back.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const reason = lock.signal.reason as Error | undefined;
      process.stdout.write(
        `write ${accepted === 1 ? 'accepted' : 'rejected'}; signal ${lock.signal.aborted ? `aborted: ${reason?.name}` : 'live'}\n`,
      );
    },
    { limit },
  );
  await resource.quit();
  await app.close();
}

runMain(main);

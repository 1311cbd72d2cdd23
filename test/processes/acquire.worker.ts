// A separate process that asks for one lock, prints what it got (one JSON line), holds it a while and exits.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService } from '../../lib';
import { runMain } from '../support/worker-main';

const [redisUrl, prefix, key, ttl, waitTimeout, holdMs] = process.argv.slice(2);

@Module({ imports: [LockModule.forRoot({ redis: redisUrl, prefix, logger: false })] })
class AcquireModule {}

runMain(async () => {
  const app = await NestFactory.createApplicationContext(AcquireModule, { logger: false });
  process.stdout.write('waiting\n');
  const outcome = await app
    .get(LockService)
    .acquire(key, { ttl: Number(ttl), waitTimeout: Number(waitTimeout) })
    .then(
      (lock) => ({ lock, report: { at: Date.now(), fencingToken: lock.fencingToken, isHeld: lock.isHeld } }),
      (error: unknown) => ({ lock: undefined, report: { at: Date.now(), error: (error as Error).name } }),
    );
  process.stdout.write(`${JSON.stringify(outcome.report)}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  await outcome.lock?.release().catch(() => undefined);
  await app.close();
});

// A separate process that takes one lock `iterations` times and does a non-atomic increment inside it.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { LockModule, LockService } from '../../lib';
import { runMain } from '../support/worker-main';

const [redisUrl, prefix, counterKey, iterations] = process.argv.slice(2);

@Module({
  imports: [
    LockModule.forRoot({ redis: redisUrl.includes(',') ? redisUrl.split(',') : redisUrl, prefix, logger: false, waitTimeout: 60_000 }),
  ],
})
class WorkerModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
  const locks = app.get(LockService);
  const redis = new Redis(redisUrl.split(',')[0]);
  for (let i = 0; i < Number(iterations); i += 1) {
    await locks.using('counter', async () => {
      const value = Number((await redis.get(counterKey)) ?? '0');
      await new Promise((resolve) => setImmediate(resolve));
      await redis.set(counterKey, String(value + 1));
    });
  }
  await redis.quit();
  await app.close();
}

runMain(main);

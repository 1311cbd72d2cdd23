// One app instance of the lost-update checker: a @Locked service method called by concurrent workers.
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Locked, LockModule } from '../../lib';
import { runMain } from '../support/worker-main';

const [url, prefix, counterKey, intervalsKey, workers, iterations] = process.argv.slice(2);
const REDIS = 'test:redis';

function now(): number {
  // CLOCK_MONOTONIC is one clock for every process on the machine: intervals of different processes compare.
  return Number(process.hrtime.bigint()) / 1e6;
}

@Injectable()
class Counter {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  @Locked('fault:counter', { waitTimeout: 120_000 })
  async increment(): Promise<void> {
    const start = now();
    const value = Number((await this.redis.get(counterKey)) ?? '0');
    await new Promise((resolve) => setImmediate(resolve));
    await this.redis.set(counterKey, String(value + 1));
    await this.redis.rpush(intervalsKey, `${start},${now()}`);
  }
}

@Module({
  imports: [LockModule.forRoot({ redis: url, prefix, logger: false, ttl: 5_000 })],
  providers: [Counter, { provide: REDIS, useFactory: () => new Redis(url) }],
})
class CounterModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(CounterModule, { logger: false });
  const counter = app.get(Counter);
  await Promise.all(
    Array.from({ length: Number(workers) }, async () => {
      for (let i = 0; i < Number(iterations); i += 1) {
        await counter.increment();
      }
    }),
  );
  await app.get<Redis>(REDIS).quit();
  await app.close();
}

runMain(main);

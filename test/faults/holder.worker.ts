// A process that takes a lock (or `count` permits of a semaphore of `limit`) and holds it until it is killed.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService } from '../../lib';

const [url, key, ttl, limit = '1', count = '1'] = process.argv.slice(2);

@Module({ imports: [LockModule.forRoot({ redis: url, logger: false, ttl: Number(ttl) })] })
class HolderModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(HolderModule, { logger: false });
  const locks = app.get(LockService);
  for (let i = 0; i < Number(count); i += 1) {
    await locks.acquire(key, { limit: Number(limit) });
  }
  process.stdout.write('acquired\n');
  setInterval(() => undefined, 1_000);
}

void main();

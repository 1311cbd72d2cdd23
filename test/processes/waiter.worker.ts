// A separate process that waits for one lock (and is killed by the test while it waits).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService } from '../../lib';

const [redisUrl, prefix, key, waitTimeout, ttl] = process.argv.slice(2);

@Module({ imports: [LockModule.forRoot({ redis: redisUrl, prefix, logger: false })] })
class WaiterModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(WaiterModule, { logger: false });
  process.stdout.write('waiting\n');
  await app.get(LockService).acquire(key, { waitTimeout: Number(waitTimeout), ...(ttl ? { ttl: Number(ttl) } : {}) });
}

void main();

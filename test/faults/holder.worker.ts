// A process that takes a lock and holds it until it is killed.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService } from '../../lib';

const [url, key, ttl] = process.argv.slice(2);

@Module({ imports: [LockModule.forRoot({ redis: url, logger: false, ttl: Number(ttl) })] })
class HolderModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(HolderModule, { logger: false });
  await app.get(LockService).acquire(key);
  process.stdout.write('acquired\n');
  setInterval(() => undefined, 1_000);
}

void main();

// An app with enableShutdownHooks() that holds a lock until it receives SIGTERM.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService } from '../../lib';

const [url, prefix] = process.argv.slice(2);

@Module({ imports: [LockModule.forRoot({ redis: url, prefix, ttl: 60_000 })] })
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.get(LockService).acquire('held-until-sigterm');
  process.stdout.write('acquired\n');
}

void main();

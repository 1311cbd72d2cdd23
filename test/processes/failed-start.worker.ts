// An app whose start fails because its lock store cannot be used (verifyConnection), started with abortOnError: false
// as a test or a script would. It prints the error and what the library logged, then must exit by itself: no
// process.exit here, so a client left reconnecting would keep it alive.
import 'reflect-metadata';
import { Module, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, type LockModuleOptions } from '../../lib';

const redis = JSON.parse(process.argv[2]) as LockModuleOptions['redis'];

const print =
  (level: string) =>
  (message: unknown): void =>
    void process.stdout.write(`${JSON.stringify({ log: level, message: String(message) })}\n`);
const logger: LoggerService = { log: print('log'), warn: print('warn'), error: print('error') };

@Module({ imports: [LockModule.forRoot({ redis, verifyConnection: true, commandTimeout: 1_000, logger })] })
class AppModule {}

NestFactory.createApplicationContext(AppModule, { abortOnError: false, logger: false }).then(
  () => process.stdout.write(`${JSON.stringify({ started: true })}\n`),
  (error: Error) => process.stdout.write(`${JSON.stringify({ name: error.name, message: error.message })}\n`),
);

import { Test } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import { LockModule, LockService, type LockModuleOptions } from '../../lib';
import { REDIS_URL } from './redis';

/** A booted Nest app with LockModule, and its LockService. */
export interface LockApp {
  app: INestApplication;
  locks: LockService;
}

/**
 * Boots a Nest app that imports `LockModule.forRoot(options)` against the test Redis.
 * @param options module options; `redis` defaults to the test Redis and `logger` to false
 */
export async function bootLockApp(options: LockModuleOptions = {}): Promise<LockApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [LockModule.forRoot({ redis: REDIS_URL, logger: false, ...options })],
  }).compile();
  const app = moduleRef.createNestApplication();
  await app.init();
  return { app, locks: app.get(LockService) };
}

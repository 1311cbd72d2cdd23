import { Test } from '@nestjs/testing';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
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

/** The HTTP platforms the HTTP specs run on, by name. */
export const HTTP_PLATFORMS: Array<[name: string, createAdapter: () => AbstractHttpAdapter]> = [
  ['Express', () => new ExpressAdapter()],
  ['Fastify', () => new FastifyAdapter()],
];

/**
 * Boots a Nest app from the module metadata on an HTTP platform, ready to take requests.
 * @param metadata imports, controllers and providers
 * @param createAdapter the platform's adapter (see {@link HTTP_PLATFORMS})
 */
export async function bootHttpApp(metadata: ModuleMetadata, createAdapter: () => AbstractHttpAdapter): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const adapter = createAdapter();
  const app = moduleRef.createNestApplication(adapter, { logger: false });
  await app.init();
  if (adapter instanceof FastifyAdapter) {
    await adapter.getInstance().ready();
  }
  return app;
}

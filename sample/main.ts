import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { probeRedis, SAMPLE_REDIS_URL } from './redis-probe';

async function bootstrap(): Promise<void> {
  const noRedis = await probeRedis(SAMPLE_REDIS_URL);
  if (noRedis !== undefined) {
    Logger.warn(
      `No Redis at ${SAMPLE_REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')} (${noRedis}): running on the in-memory store, in this ` +
        'one process. With a Redis, the locks hold across instances: npm run sample:demo starts two.',
      'Sample',
    );
  }
  const appModule = AppModule.register(noRedis === undefined ? SAMPLE_REDIS_URL : undefined);
  const app = await NestFactory.create(appModule, process.env.SAMPLE_QUIET ? { logger: ['error'] } : {});
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  Logger.log(`Sample listening on ${url}. Try two at once:`, 'Sample');
  Logger.log(`  curl -X POST '${url}/reports/42?seconds=3' & curl -X POST '${url}/reports/42?seconds=1'`, 'Sample');
  Logger.log('  The second waits 2 s for the lock, then answers 409 Conflict.', 'Sample');
  Logger.log(`  curl -X POST ${url}/orders/7/confirm & curl -X POST ${url}/orders/7/confirm`, 'Sample');
  Logger.log('  @Locked on the handler: the second answers 409 at once (waitTimeout: 0).', 'Sample');
  Logger.log(
    `  curl -X POST -H 'x-customer-id: c1' ${url}/orders/1/checkout & curl -X POST -H 'x-customer-id: c1' ${url}/orders/2/checkout`,
    'Sample',
  );
  Logger.log('  @UseLock keyed on a request header: two orders of one customer, the second answers 409 at once.', 'Sample');
  Logger.log(`  curl -X POST ${url}/tickets/concert/restock?count=100 ; curl -X POST ${url}/tickets/concert/buy`, 'Sample');
  Logger.log(`  curl ${url}/reports/42/preview & curl ${url}/reports/42/preview & curl -X POST '${url}/reports/42?seconds=1'`, 'Sample');
  Logger.log('  Read locks: the previews run together; the build (a writer) waits for them.', 'Sample');
  Logger.log(`  for i in 1 2 3; do curl -X POST ${url}/reports/$i/export & done`, 'Sample');
  Logger.log('  A semaphore of 2: two exports run, the third answers 409 at once.', 'Sample');
}

void bootstrap();

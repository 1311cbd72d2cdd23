import { Module } from '@nestjs/common';
import { LockModule } from '../lib';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';

@Module({
  imports: [
    LockModule.forRoot({
      redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      prefix: 'sample:lock:',
      ttl: 5_000,
      waitTimeout: 2_000,
    }),
  ],
  controllers: [ReportsController],
  providers: [ReportsService],
})
export class AppModule {}

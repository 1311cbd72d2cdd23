import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LockModule } from '../lib';
import { CleanupJob } from './cleanup.job';
import { OrdersController } from './orders.controller';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';
import { TicketsController } from './tickets.controller';
import { TicketsService } from './tickets.service';

@Module({
  imports: [
    LockModule.forRoot({
      redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      prefix: 'sample:lock:',
      ttl: 5_000,
      waitTimeout: 2_000,
    }),
    ScheduleModule.forRoot(),
  ],
  controllers: [ReportsController, OrdersController, TicketsController],
  providers: [ReportsService, CleanupJob, TicketsService],
})
export class AppModule {}

import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LockModule } from '../lib';
import { CleanupJob } from './cleanup.job';
import { OrdersController } from './orders.controller';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';
import { MemoryTicketStock, RedisTicketStock, TicketStock } from './ticket-stock';
import { TicketsController } from './tickets.controller';
import { TicketsService } from './tickets.service';

@Module({})
export class AppModule {
  /**
   * The sample app: locks (and the tickets' stock) in the Redis at `redisUrl`, shared by every instance; without one,
   * in this process, on the in-memory store.
   * @param redisUrl where Redis answers, or undefined
   */
  static register(redisUrl: string | undefined): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LockModule.forRoot({
          ...(redisUrl === undefined ? { store: 'memory' } : { redis: redisUrl }),
          prefix: 'sample:lock:',
          ttl: 5_000,
          waitTimeout: 2_000,
        }),
        ScheduleModule.forRoot(),
      ],
      controllers: [ReportsController, OrdersController, TicketsController],
      providers: [
        ReportsService,
        CleanupJob,
        TicketsService,
        { provide: TicketStock, useFactory: () => (redisUrl === undefined ? new MemoryTicketStock() : new RedisTicketStock(redisUrl)) },
      ],
    };
  }
}

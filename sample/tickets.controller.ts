import { Controller, DefaultValuePipe, Get, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { TicketsService, type Purchase } from './tickets.service';

@Controller('tickets')
export class TicketsController {
  constructor(private readonly tickets: TicketsService) {}

  /** Buys one ticket. LOCKS=off starts the app without the lock, to see what it prevents. */
  @Post(':event/buy')
  buy(@Param('event') event: string): Promise<Purchase> {
    return process.env.LOCKS === 'off' ? this.tickets.buyWithoutLock(event) : this.tickets.buy(event);
  }

  @Post(':event/restock')
  async restock(@Param('event') event: string, @Query('count', new DefaultValuePipe(100), ParseIntPipe) count: number) {
    await this.tickets.restock(event, count);
    return this.tickets.stats(event);
  }

  @Get(':event')
  stats(@Param('event') event: string) {
    return this.tickets.stats(event);
  }
}

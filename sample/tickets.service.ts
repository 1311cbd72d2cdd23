import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockService } from '../lib';
import { TicketStock } from './ticket-stock';

/** Outcome of one purchase. */
export interface Purchase {
  sold: boolean;
  fencingToken?: number;
}

/** A limited stock of tickets per event, kept where every instance of the app sees it (Redis). */
@Injectable()
export class TicketsService implements OnModuleDestroy {
  constructor(
    private readonly locks: LockService,
    private readonly stock: TicketStock,
  ) {}

  /** Sells one ticket under the lock `tickets:<event>`: read, pay, write can never interleave across instances. */
  @Locked('tickets:{0}', { waitTimeout: 10_000 })
  async buy(event: string): Promise<Purchase> {
    const purchase = await this.sellOne(event);
    return { ...purchase, fencingToken: this.locks.current()?.fencingToken };
  }

  /** The same purchase without a lock: what the demo shows going wrong. */
  buyWithoutLock(event: string): Promise<Purchase> {
    return this.sellOne(event);
  }

  /** Puts `count` tickets on sale and forgets earlier sales. */
  async restock(event: string, count: number): Promise<void> {
    await this.stock.set({ [this.stockKey(event)]: count, [this.soldKey(event)]: 0 });
  }

  /** Tickets left and sold. */
  async stats(event: string): Promise<{ event: string; stock: number; sold: number }> {
    return { event, stock: await this.stock.get(this.stockKey(event)), sold: await this.stock.get(this.soldKey(event)) };
  }

  async onModuleDestroy(): Promise<void> {
    await this.stock.close();
  }

  private async sellOne(event: string): Promise<Purchase> {
    const stock = await this.stock.get(this.stockKey(event));
    if (stock <= 0) {
      return { sold: false };
    }
    // Charging the card takes a moment: long enough for another instance to read the same stock.
    await sleep(5);
    await this.stock.set({ [this.stockKey(event)]: stock - 1 });
    await this.stock.increment(this.soldKey(event));
    return { sold: true };
  }

  private stockKey(event: string): string {
    return `sample:tickets:${event}:stock`;
  }

  private soldKey(event: string): string {
    return `sample:tickets:${event}:sold`;
  }
}

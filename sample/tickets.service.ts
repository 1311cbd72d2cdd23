import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockService } from '../lib';

/** Outcome of one purchase. */
export interface Purchase {
  sold: boolean;
  fencingToken?: number;
}

/** A limited stock of tickets per event, kept in Redis and shared by every instance of the app. */
@Injectable()
export class TicketsService implements OnModuleDestroy {
  private readonly redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

  constructor(private readonly locks: LockService) {}

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
    await this.redis.mset(this.stockKey(event), String(count), this.soldKey(event), '0');
  }

  /** Tickets left and sold. */
  async stats(event: string): Promise<{ event: string; stock: number; sold: number }> {
    const [stock, sold] = await this.redis.mget(this.stockKey(event), this.soldKey(event));
    return { event, stock: Number(stock ?? 0), sold: Number(sold ?? 0) };
  }

  async onModuleDestroy(): Promise<void> {
    await this.redis.quit();
  }

  private async sellOne(event: string): Promise<Purchase> {
    const stock = Number((await this.redis.get(this.stockKey(event))) ?? '0');
    if (stock <= 0) {
      return { sold: false };
    }
    // Charging the card takes a moment: long enough for another instance to read the same stock.
    await sleep(5);
    await this.redis.set(this.stockKey(event), String(stock - 1));
    await this.redis.incr(this.soldKey(event));
    return { sold: true };
  }

  private stockKey(event: string): string {
    return `sample:tickets:${event}:stock`;
  }

  private soldKey(event: string): string {
    return `sample:tickets:${event}:sold`;
  }
}

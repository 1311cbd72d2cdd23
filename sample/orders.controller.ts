import { Controller, Param, ParseIntPipe, Post } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockService, UseLock } from '../lib';

@Controller('orders')
export class OrdersController {
  constructor(private readonly locks: LockService) {}

  /**
   * One confirmation per order at a time, across every instance. The key is built from the id after
   * ParseIntPipe; a second call while one runs answers 409 Conflict at once (waitTimeout: 0).
   */
  @Post(':id/confirm')
  @Locked('order:{0}', { waitTimeout: 0 })
  async confirm(@Param('id', ParseIntPipe) id: number): Promise<{ id: number; fencingToken: number | undefined }> {
    await sleep(2_000);
    return { id, fencingToken: this.locks.current()?.fencingToken };
  }

  /**
   * One checkout per customer at a time, whatever the order: the key comes from the request (a header here; a
   * guard's `request.user` works the same way, `{user.id}`), so @UseLock rather than @Locked.
   */
  @Post(':id/checkout')
  @UseLock('customer:{headers.x-customer-id}', { waitTimeout: 0 })
  async checkout(@Param('id', ParseIntPipe) id: number): Promise<{ id: number; lockedKey: string | undefined }> {
    await sleep(2_000);
    return { id, lockedKey: this.locks.current()?.keys[0] };
  }
}

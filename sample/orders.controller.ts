import { Controller, Param, ParseIntPipe, Post } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockService } from '../lib';

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
}

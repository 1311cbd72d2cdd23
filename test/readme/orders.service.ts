// orders.service.ts
import { Injectable } from '@nestjs/common';
import { Locked } from 'nest-lock';

@Injectable()
export class OrdersService {
  @Locked('order:{0}', { waitTimeout: 0 })
  async confirm(id: string): Promise<string> {
    return `order ${id} confirmed`;
  }

  @Locked('nightly-report', { onBusy: 'skip' })
  async nightlyReport(): Promise<string> {
    return 'report sent';
  }
}

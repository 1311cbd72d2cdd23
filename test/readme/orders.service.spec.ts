// orders.service.spec.ts
import { Test } from '@nestjs/testing';
import { LockNotAcquiredError } from 'nest-lock';
import { LockFaults, LockTestingModule } from 'nest-lock/testing';
import { OrdersService } from './orders.service';

describe('OrdersService', () => {
  let orders: OrdersService;
  let faults: LockFaults;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockTestingModule.forRoot()], // the real locks, in memory: no Redis
      providers: [OrdersService],
    }).compile();
    await moduleRef.init();
    orders = moduleRef.get(OrdersService);
    faults = moduleRef.get(LockFaults);
  });

  it('fails with LockNotAcquiredError (409) while another instance confirms the order', async () => {
    faults.busy('order:1');
    await expect(orders.confirm('1')).rejects.toBeInstanceOf(LockNotAcquiredError);
  });

  it('skips the report while another instance sends it', async () => {
    faults.busy('nightly-report');
    await expect(orders.nightlyReport()).resolves.toBeUndefined();
  });
});

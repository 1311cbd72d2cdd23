import { Controller, Injectable, type INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, EventPattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockModule, LockService } from '../../lib';
import { REDIS_URL, uniquePrefix } from '../support/redis';
import { freePort } from '../support/redis-server';

const seen: Array<{ source: string; key: string | undefined }> = [];

@Controller()
class AuditEvents {
  constructor(private readonly locks: LockService) {}

  @EventPattern('order.paid')
  @Locked('audit:{0.orderId}')
  async onPaid(event: { orderId: string }): Promise<void> {
    seen.push({ source: `event ${event.orderId}`, key: this.locks.current()?.keys[0] });
  }
}

@Injectable()
class Heartbeat {
  constructor(private readonly locks: LockService) {}

  @Interval('heartbeat', 100)
  @Locked('heartbeat', { onBusy: 'skip' })
  async beat(): Promise<void> {
    seen.push({ source: 'interval', key: this.locks.current()?.keys[0] });
  }
}

describe('@Locked on @EventPattern and @Interval handlers', () => {
  let service: INestMicroservice;
  let client: ClientProxy;

  beforeAll(async () => {
    const port = await freePort();
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: uniquePrefix('event-interval'), logger: false }), ScheduleModule.forRoot()],
      controllers: [AuditEvents],
      providers: [Heartbeat],
    }).compile();
    service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
    await service.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });

  afterAll(async () => {
    client.close();
    await service.close();
  });

  it('runs an event handler under a lock keyed by the event payload', async () => {
    client.emit('order.paid', { orderId: 'o-77' });
    for (let i = 0; i < 100 && !seen.some((entry) => entry.source === 'event o-77'); i += 1) {
      await sleep(10);
    }
    expect(seen).toContainEqual({ source: 'event o-77', key: 'audit:o-77' });
  });

  it('runs an @Interval job under its lock', async () => {
    await sleep(350);
    expect(seen.filter((entry) => entry.source === 'interval').length).toBeGreaterThanOrEqual(2);
    expect(seen.filter((entry) => entry.source === 'interval').every((entry) => entry.key === 'heartbeat')).toBe(true);
  });
});

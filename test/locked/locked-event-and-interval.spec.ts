import { Controller, Injectable } from '@nestjs/common';
import { EventPattern, type ClientProxy } from '@nestjs/microservices';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockModule, LockService } from '../../lib';
import { REDIS_URL, uniquePrefix } from '../support/redis';
import { startTcpMicroservice, type TcpMicroservice } from '../support/tcp-microservice';

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
  let microservice: TcpMicroservice;
  let client: ClientProxy;

  beforeAll(async () => {
    microservice = await startTcpMicroservice({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: uniquePrefix('event-interval'), logger: false }), ScheduleModule.forRoot()],
      controllers: [AuditEvents],
      providers: [Heartbeat],
    });
    client = microservice.client;
  });

  afterAll(async () => {
    await microservice.close();
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

// Compiled (not run) by .ci/compat under moduleResolution node10, node16 and bundler: the published types resolve,
// including the nest-lock/terminus and nest-lock/testing subpaths, and the public API type-checks as the README uses it.
import { Controller, Injectable, Module, Post, type ExecutionContext } from '@nestjs/common';
import { LeaderOnly, Locked, LockModule, LockNotAcquiredError, LockService, UseLock, type Leadership, type Lock } from 'nest-lock';
import { LockHealthIndicator } from 'nest-lock/terminus';
import { describeLockStoreConformance, LockFaults, LockTestingModule, type StoreUnderTest } from 'nest-lock/testing';

@Injectable()
export class Orders {
  constructor(private readonly locks: LockService) {}

  @Locked((id: string) => `order:${id}`, { ttl: 10_000, waitTimeout: 2_000 })
  async confirm(id: string): Promise<string> {
    return id;
  }

  report(): Promise<number> {
    return this.locks.using('report', (lock: Lock) => lock.fencingToken);
  }
}

@Injectable()
export class Outbox {
  constructor(private readonly locks: LockService) {}

  @LeaderOnly('outbox', { ttl: 15_000, retry: 2_000 })
  async publish(): Promise<void> {}

  term(): number | undefined {
    const leadership: Leadership = this.locks.elect('outbox');
    return leadership.isLeader ? leadership.term : undefined;
  }
}

@Controller('accounts')
@UseLock((context: ExecutionContext) => `user:${String(context.switchToHttp().getRequest<{ ip: string }>().ip)}`)
export class AccountsController {
  @Post(':id/pay')
  @UseLock('account:{params.id}', { waitTimeout: 0, errorMessage: (error) => `Busy: ${error.keys.length} lock(s).` })
  pay(): string {
    return 'paid';
  }
}

@Module({
  imports: [LockModule.forRoot({ redis: 'redis://127.0.0.1:6379' })],
  providers: [Orders, Outbox],
  controllers: [AccountsController],
})
export class AppModule {}

@Module({ imports: [LockTestingModule.forRoot({ waitTimeout: 0 })], providers: [Orders] })
export class OrdersTestModule {}

/** A test of the busy path, as the README's "Testing your app" writes it. */
export async function busyPath(faults: LockFaults, orders: Orders): Promise<boolean> {
  faults.busy(/^order:/);
  const error = await orders.confirm('1').catch((caught: unknown) => caught);
  await faults.lose('order:2');
  faults.unavailable(false);
  faults.clear();
  return error instanceof LockNotAcquiredError;
}

export const conformance: typeof describeLockStoreConformance = describeLockStoreConformance;
export const storeUnderTest = (store: StoreUnderTest['store']): StoreUnderTest => ({ store });

export const busy: typeof LockNotAcquiredError = LockNotAcquiredError;
export const health: typeof LockHealthIndicator = LockHealthIndicator;

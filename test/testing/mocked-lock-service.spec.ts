import { Controller, Injectable, Param, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, LockError, LockModule, LockService, UseLock } from '../../lib';
import { LockTestingModule } from '../../lib/testing';
import { RecordingFilter } from '../support/recording-filter';

@Injectable()
class OrdersService {
  @Locked('order:{0}')
  async confirm(id: string): Promise<string> {
    return id;
  }
}

@Controller('accounts')
class AccountsController {
  @Post(':id/pay')
  @UseLock('account:{params.id}')
  pay(@Param('id') id: string): string {
    return id;
  }
}

const mockLockService = { acquire: jest.fn(), using: jest.fn(), stream: jest.fn() };
const POINTS_TO_TESTING = /import LockTestingModule\.forRoot\(\) from 'nest-lock\/testing' instead of mocking LockService/;

describe('a LockService replaced by a mock', () => {
  it.each([
    ['LockModule', LockModule.forRoot({ store: 'memory', logger: false })],
    ['LockTestingModule', LockTestingModule.forRoot()],
  ])('makes a @Locked method (with %s) fail with an error pointing to LockTestingModule', async (_name, lockModule) => {
    const moduleRef = await Test.createTestingModule({ imports: [lockModule], providers: [OrdersService] })
      .overrideProvider(LockService)
      .useValue(mockLockService)
      .compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    const error = await moduleRef
      .get(OrdersService)
      .confirm('1')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LockError);
    expect((error as Error).message).toMatch(/^OrdersService\.confirm is @Locked, but this app's LockService was replaced/);
    expect((error as Error).message).toMatch(POINTS_TO_TESTING);
    expect(mockLockService.using).not.toHaveBeenCalled();
    await moduleRef.close();
  });

  it('makes a @UseLock route fail (500) with the same pointer, for the developer', async () => {
    RecordingFilter.seen.length = 0;
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ store: 'memory', logger: false })],
      controllers: [AccountsController],
      providers: [{ provide: APP_FILTER, useClass: RecordingFilter }],
    })
      .overrideProvider(LockService)
      .useValue(mockLockService)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const response = await request(app.getHttpServer()).post('/accounts/1/pay');
    expect(response.status).toBe(500);
    expect((RecordingFilter.seen[0] as Error).message).toMatch(/^@UseLock on AccountsController\.pay needs nest-lock's LockService/);
    expect((RecordingFilter.seen[0] as Error).message).toMatch(POINTS_TO_TESTING);
    expect(mockLockService.stream).not.toHaveBeenCalled();
    await app.close();
  });

  it('without LockModule in the app, makes a @Locked method fail with an error that names both ways out', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [OrdersService, { provide: LockService, useValue: mockLockService }],
    }).compile();
    moduleRef.useLogger(false);
    const error = await moduleRef
      .get(OrdersService)
      .confirm('1')
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/import LockModule\.forRoot\(\) in the app/);
    expect((error as Error).message).toMatch(/In a test, import LockTestingModule\.forRoot\(\) from 'nest-lock\/testing'/);
  });
});

describe('an app whose LockService is a mock, and that has no @Locked or @UseLock', () => {
  it('starts and closes (OpenTelemetry, when installed, records nothing)', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [LockModule.forRoot({ store: 'memory', logger: false })] })
      .overrideProvider(LockService)
      .useValue(mockLockService)
      .compile();
    await moduleRef.init();
    await moduleRef.close();
  });
});

describe('a LockTestingModule compiled but not started', () => {
  it('makes a @Locked method fail with an error that says to call moduleRef.init(), and works once it is called', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [LockTestingModule.forRoot()], providers: [OrdersService] }).compile();
    moduleRef.useLogger(false);
    const orders = moduleRef.get(OrdersService);
    await expect(orders.confirm('1')).rejects.toThrow(/in a test, await moduleRef\.init\(\) after compile\(\)/);
    await moduleRef.init();
    await expect(orders.confirm('1')).resolves.toBe('1');
    await moduleRef.close();
  });
});

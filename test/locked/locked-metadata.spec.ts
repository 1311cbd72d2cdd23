import {
  CanActivate,
  Controller,
  ExecutionContext,
  ForbiddenException,
  Get,
  Injectable,
  Param,
  SetMetadata,
  UseGuards,
  type INestApplication,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Locked, LockModule } from '../../lib';
import { REDIS_URL, uniquePrefix } from '../support/redis';

const ROLE = 'role';

@Injectable()
class RoleGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const role = this.reflector.get<string>(ROLE, context.getHandler());
    if (role !== 'admin') {
      throw new ForbiddenException(`role metadata was ${String(role)}`);
    }
    return true;
  }
}

@Controller('meta')
@UseGuards(RoleGuard)
class MetaController {
  @Get('locked-below/:id')
  @SetMetadata(ROLE, 'admin')
  @Locked('meta:{0}')
  async lockedBelow(@Param('id') id: string): Promise<string> {
    return `below:${id}`;
  }

  @Locked('meta:{0}')
  @SetMetadata(ROLE, 'admin')
  @Get('locked-above/:id')
  async lockedAbove(@Param('id') id: string): Promise<string> {
    return `above:${id}`;
  }

  @Cron('0 0 1 1 *', { name: 'locked-below-cron' })
  @Locked('cron-below', { onBusy: 'skip' })
  async cronBelow(): Promise<void> {}

  @Locked('cron-above', { onBusy: 'skip' })
  @Cron('0 0 1 1 *', { name: 'locked-above-cron' })
  async cronAbove(): Promise<void> {}

  @MessagePattern('below')
  @Locked('rpc-below')
  async rpcBelow(): Promise<void> {}

  @Locked('rpc-above')
  @MessagePattern('above')
  async rpcAbove(): Promise<void> {}
}

describe('@Locked keeps other decorators’ metadata', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix: uniquePrefix('meta'), logger: false }), ScheduleModule.forRoot()],
      controllers: [MetaController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it.each([['locked-below'], ['locked-above']])('keeps the @Get route, its params and SetMetadata read by a guard (%s)', async (route) => {
    const response = await request(app.getHttpServer()).get(`/meta/${route}/7`);
    expect(response.status).toBe(200);
    expect(response.text).toBe(`${route === 'locked-below' ? 'below' : 'above'}:7`);
  });

  it('keeps @Cron jobs scheduled in both orders', () => {
    const jobs = app.get(SchedulerRegistry).getCronJobs();
    expect([...jobs.keys()].sort()).toEqual(['locked-above-cron', 'locked-below-cron']);
  });

  it('keeps @MessagePattern metadata in both orders', () => {
    expect(Reflect.getMetadata(PATTERN_METADATA, MetaController.prototype.rpcBelow)).toEqual(['below']);
    expect(Reflect.getMetadata(PATTERN_METADATA, MetaController.prototype.rpcAbove)).toEqual(['above']);
  });

  it('keeps the method names', () => {
    expect(MetaController.prototype.lockedAbove.name).toBe('lockedAbove');
    expect(MetaController.prototype.cronAbove.name).toBe('cronAbove');
  });
});

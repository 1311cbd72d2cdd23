import { Controller, type INestApplication } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { Test } from '@nestjs/testing';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { firstValueFrom } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import { LockModule, LockService, UseLock } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix } from '../support/redis';
import { startTcpMicroservice, type TcpMicroservice } from '../support/tcp-microservice';

const prefix = uniquePrefix('use-lock-transports');

@WebSocketGateway()
class PaymentsGateway {
  constructor(private readonly locks: LockService) {}

  @SubscribeMessage('pay')
  @UseLock((context) => `ws-account:${context.switchToWs().getData<{ id: string }>().id}`, { waitTimeout: 0 })
  async pay(@MessageBody() body: { id: string }): Promise<{ id: string; key: string | undefined }> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { id: body.id, key: this.locks.current()?.keys[0] };
  }
}

@Controller()
class PaymentsHandler {
  @MessagePattern('pay')
  @UseLock((context) => `rpc-account:${context.switchToRpc().getData<{ id: string }>().id}`, { waitTimeout: 0 })
  async pay(@Payload() body: { id: string }): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return body.id;
  }

  @MessagePattern('templated')
  @UseLock('account:{params.id}')
  templated(): string {
    return 'ran';
  }
}

function emit(socket: Socket, event: string, data: unknown): Promise<unknown> {
  return new Promise((resolve) => socket.emit(event, data, resolve));
}

describe('@UseLock on a WebSocket gateway (socket.io)', () => {
  let app: INestApplication;
  let socket: Socket;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      providers: [PaymentsGateway],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new IoAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  });

  afterAll(async () => {
    socket.close();
    await app.close();
  });

  it('answers a message while the key is busy with socket.io’s exception event carrying the 409 and the client’s answer', async () => {
    const exception = new Promise<unknown>((resolve) => socket.once('exception', resolve));
    const first = emit(socket, 'pay', { id: '1' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.emit('pay', { id: '1' });
    expect(await exception).toEqual({
      status: 'error',
      statusCode: 409,
      error: 'Conflict',
      message: 'The resource is busy; try again later.',
    });
    expect(await first).toEqual({ id: '1', key: 'ws-account:1' });
  });
});

describe('@UseLock on a microservice handler (TCP)', () => {
  let micro: TcpMicroservice;

  beforeAll(async () => {
    micro = await startTcpMicroservice({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [PaymentsHandler],
    });
  });

  afterAll(async () => {
    await micro.close();
    const redis = redisClient();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('answers a busy key with an RpcException carrying the 409 and the client’s answer, not "Internal server error"', async () => {
    const first = firstValueFrom(micro.client.send('pay', { id: '2' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const busy = await firstValueFrom(micro.client.send('pay', { id: '2' })).catch((error: unknown) => error);
    expect(busy).toEqual({
      status: 'error',
      statusCode: 409,
      error: 'Conflict',
      message: 'The resource is busy; try again later.',
    });
    expect(await first).toBe('2');
  });

  it('tells a template over the HTTP request on an RPC handler to use a key function, in the reply', async () => {
    const failed = await firstValueFrom(micro.client.send('templated', {})).catch((error: unknown) => error);
    expect(failed).toEqual({ status: 'error', statusCode: 500, message: 'Internal Server Error' });
  });
});

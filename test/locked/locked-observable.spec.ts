import { Controller, Injectable, Sse, type INestApplication, type MessageEvent } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { firstValueFrom, interval, lastValueFrom, map, Observable, take, toArray } from 'rxjs';
import { Locked, LockModule, LockService } from '../../lib';
import { deleteKeysUnder, REDIS_URL, redisClient, uniquePrefix, waitUntil } from '../support/redis';

@Injectable()
class Feed {
  constructor(private readonly locks: LockService) {}

  @Locked('broken:{0}')
  broken(_name: string): Observable<number> {
    throw new Error('could not build the stream');
  }

  @Locked('feed:{0}')
  ticks(_name: string, count: number): Observable<{ tick: number; fencing: number | undefined }> {
    return interval(40).pipe(
      take(count),
      map((tick) => ({ tick, fencing: this.locks.current()?.fencingToken })),
    );
  }
}

@Controller('events')
class EventsController {
  @Sse('stream')
  @Locked('sse-stream')
  stream(): Observable<MessageEvent> {
    return interval(50).pipe(
      take(4),
      map((n) => ({ data: { n } })),
    );
  }
}

describe('@Locked on Observable results', () => {
  let redis: Redis;
  let prefix: string;
  let app: INestApplication;
  let locks: LockService;
  let feed: Feed;

  beforeAll(async () => {
    redis = redisClient();
    prefix = uniquePrefix('locked-observable');
    const moduleRef = await Test.createTestingModule({
      imports: [LockModule.forRoot({ redis: REDIS_URL, prefix, logger: false })],
      controllers: [EventsController],
      providers: [Feed],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    locks = app.get(LockService);
    feed = app.get(Feed);
  });

  afterAll(async () => {
    await app.close();
    await deleteKeysUnder(redis, prefix);
    await redis.quit();
  });

  it('takes the lock on subscription and holds it until the last value', async () => {
    const stream = feed.ticks('a', 4);
    expect(await locks.isLocked('feed:a')).toBe(false);
    const values: boolean[] = [];
    const done = lastValueFrom(
      stream.pipe(
        map(() => undefined),
        toArray(),
      ),
    );
    const probe = setInterval(() => void locks.isLocked('feed:a').then((held) => values.push(held)), 30);
    await done;
    clearInterval(probe);
    expect(values.length).toBeGreaterThan(2);
    expect(values.every(Boolean)).toBe(true);
    expect(await locks.isLocked('feed:a')).toBe(false);
  });

  it('releases the lock when the method throws before returning its Observable', async () => {
    await expect(lastValueFrom(feed.broken('x'))).rejects.toThrow('could not build the stream');
    expect(await locks.isLocked('broken:x')).toBe(false);
  });

  it('releases an enclosing using() on the same key when the method throws before returning its Observable', async () => {
    await expect(locks.using('broken:y', () => lastValueFrom(feed.broken('y')))).rejects.toThrow('could not build the stream');
    expect(await locks.isLocked('broken:y')).toBe(false);
  });

  it('releases the lock when the subscriber unsubscribes early', async () => {
    const first = await firstValueFrom(feed.ticks('b', 100));
    expect(typeof first.fencing).toBe('number');
    await waitUntil(async () => !(await locks.isLocked('feed:b')));
    expect(await locks.isLocked('feed:b')).toBe(false);
  });

  it('makes a second subscriber wait for the first stream to end', async () => {
    const order: string[] = [];
    await Promise.all([
      lastValueFrom(feed.ticks('c', 3)).then(() => order.push('first')),
      new Promise((resolve) => setTimeout(resolve, 10)).then(() => lastValueFrom(feed.ticks('c', 1)).then(() => order.push('second'))),
    ]);
    expect(order).toEqual(['first', 'second']);
  });

  it('holds the lock for the whole life of a server-sent event stream', async () => {
    const { port } = app.getHttpServer().address() as AddressInfo;
    const heldDuring: boolean[] = [];
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/events/stream' }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            void locks.isLocked('sse-stream').then((held) => heldDuring.push(held));
          });
          response.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(body.match(/data:/g)).toHaveLength(4);
    expect(heldDuring.length).toBeGreaterThan(0);
    expect(heldDuring.every(Boolean)).toBe(true);
    await waitUntil(async () => !(await locks.isLocked('sse-stream')));
    expect(await locks.isLocked('sse-stream')).toBe(false);
  });
});

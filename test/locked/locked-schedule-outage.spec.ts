import { Injectable, type LoggerService } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { firstValueFrom, filter } from 'rxjs';
import { Locked, LockModule, LockService } from '../../lib';
import { eventually, uniquePrefix } from '../support/redis';
import { startRedisServer, type RedisServer } from '../support/redis-server';

interface Line {
  level: string;
  message: string;
  context: unknown;
}

/** A LoggerService that keeps every line with its context (Nest's last parameter). */
function captureLogger(lines: Line[]): LoggerService {
  const keep =
    (level: string) =>
    (message: unknown, ...params: unknown[]): void =>
      void lines.push({
        level,
        message: message instanceof Error ? (message.stack ?? message.message) : String(message),
        context: params.at(-1),
      });
  return { log: keep('log'), warn: keep('warn'), error: keep('error'), debug: keep('debug'), verbose: keep('verbose') };
}

let runs = 0;

@Injectable()
class Digest {
  @Interval(100)
  @Locked('digest', { onBusy: 'skip' })
  async send(): Promise<void> {
    runs += 1;
  }
}

describe('a @Interval job with onBusy: skip while its Redis is down', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('skips the ticks with one warning when the outage starts and one line when it ends, then runs again by itself', async () => {
    const lines: Line[] = [];
    const moduleRef = await Test.createTestingModule({
      imports: [
        // No logger option: the library's lines and the scheduler's go through the app's logger alike.
        LockModule.forRoot({ redis: server.url, prefix: uniquePrefix('schedule-outage'), commandTimeout: 300 }),
        ScheduleModule.forRoot(),
      ],
      providers: [Digest],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: captureLogger(lines) });
    await app.init();
    try {
      await eventually(() => runs >= 2, 'the job runs');
      // Killed right after a tick's release was answered (the kill is sent at once), so that no release is cut
      // short: the ticks that follow find Redis down for 1.5 s, about 15 of them.
      await firstValueFrom(app.get(LockService).events.pipe(filter((event) => event.type === 'released')));
      lines.length = 0;
      await server.restart(1_500);
      const before = runs;
      await eventually(() => runs > before + 2, 'the job runs again');

      const counted = lines.filter((line) => line.level !== 'debug' && line.level !== 'verbose');
      expect(counted.map(({ level, message }) => `${level} ${message}`)).toEqual([
        expect.stringMatching(/^warn Redis connection failed .*; lock operations fail until it is back\.$/),
        'log Redis connection is back.',
      ]);
      const skipped = lines.filter((line) => line.level === 'debug' && /Skipped a tick/.test(line.message));
      expect(skipped.length).toBeGreaterThanOrEqual(5);
    } finally {
      await app.close();
    }
  });
});

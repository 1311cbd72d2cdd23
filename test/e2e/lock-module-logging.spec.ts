import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import { bootLockApp } from '../support/app';
import { useTestRedis } from '../support/redis';

async function loseALock(options: Parameters<typeof bootLockApp>[0]): Promise<void> {
  const { app, locks } = await bootLockApp(options);
  const lock = await locks.acquire('logged', { ttl: 100, autoExtend: false });
  await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
  await app.close();
}

describe('LockModule logging', () => {
  const test = useTestRedis('logging');

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('warns through Nest’s Logger with the class name as context, once per line (no second line with the context)', async () => {
    const calls: unknown[][] = [];
    const capture: LoggerService = {
      log: (...args: unknown[]) => calls.push(['log', ...args]),
      warn: (...args: unknown[]) => calls.push(['warn', ...args]),
      error: (...args: unknown[]) => calls.push(['error', ...args]),
      debug: (...args: unknown[]) => calls.push(['debug', ...args]),
    };
    // After the testing module's compile(), which installs its own logger.
    const { app, locks } = await bootLockApp({ prefix: test.prefix, logger: undefined });
    Logger.overrideLogger(capture);
    try {
      const lock = await locks.acquire('logged', { ttl: 100, autoExtend: false });
      await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
      await app.close();
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    const lost = calls.filter((call) => /Lock "logged" was lost/.test(String(call[1])));
    expect(lost).toEqual([['warn', expect.any(String), 'LockService']]);
  });

  it('sends its lines to a LoggerService passed as logger', async () => {
    const lines: Array<[string, unknown]> = [];
    const logger: LoggerService = {
      log: (message: string, context?: unknown) => lines.push([message, context]),
      warn: (message: string, context?: unknown) => lines.push([message, context]),
      error: (message: string, context?: unknown) => lines.push([message, context]),
    };
    await loseALock({ prefix: test.prefix, logger });
    expect(lines).toContainEqual([expect.stringMatching(/Lock "logged" was lost/), 'LockService']);
  });

  it('is silent with logger: false', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    await loseALock({ prefix: test.prefix, logger: false });
    expect(warn).not.toHaveBeenCalled();
  });
});

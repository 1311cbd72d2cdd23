import { REDIS_URL, useTestRedis } from '../support/redis';
import { spawnWorker } from './run-worker';

describe('graceful shutdown with app.enableShutdownHooks()', () => {
  const test = useTestRedis('sigterm');

  it('releases the locks the app holds when the process gets SIGTERM', async () => {
    const child = spawnWorker('sigterm', [REDIS_URL, test.prefix]);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!output.includes('acquired')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await test.redis.pttl(`${test.prefix}{held-until-sigterm}`)).toBeGreaterThan(50_000);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await test.redis.exists(`${test.prefix}{held-until-sigterm}`)).toBe(0);
    expect(output).toMatch(/Released 1 lock\(s\) on shutdown/);
  }, 30_000);
});

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { codeBlocks } from '../support/markdown';
import { deleteKeysUnder, REDIS_URL, redisClient } from '../support/redis';
import { freePort } from '../support/redis-server';

const root = join(__dirname, '..', '..');

function post(port: number, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as unknown }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the README’s Quick start', () => {
  it('runs as it is: two instances, the second confirmation of an order answers 409 while the first runs', async () => {
    const [main] = codeBlocks(root, 'README.md').filter((block) => block.code.startsWith('// main.ts\n'));
    const dir = join(root, '.tmp', 'quick-start');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.ts'), main.code);
    const ports = [await freePort(), await freePort()];
    const instances = ports.map((port) =>
      spawn(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', '-r', join(root, 'test', 'support', 'resolve-ts.js'), join(dir, 'main.ts')],
        { env: { ...process.env, TS_NODE_PROJECT: join(root, 'test', 'tsconfig.json'), PORT: String(port), REDIS_URL }, stdio: 'ignore' },
      ),
    );
    const order = `quick-start-${process.pid}-${Date.now()}`;
    try {
      for (const port of ports) {
        for (let i = 0; i < 300 && (await post(port, '/orders/warm-up/confirm').catch(() => undefined)) === undefined; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const first = post(ports[0], `/orders/${order}/confirm`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await post(ports[1], `/orders/${order}/confirm`);
      expect(second).toEqual({
        status: 409,
        body: { statusCode: 409, message: 'The resource is busy; try again later.', error: 'Conflict' },
      });
      expect(await first).toEqual({ status: 201, body: { id: order, confirmed: true } });
    } finally {
      instances.forEach((instance) => instance.kill('SIGTERM'));
      const redis = redisClient();
      await deleteKeysUnder(redis, `lock:{order:${order}}`);
      await deleteKeysUnder(redis, 'lock:{order:warm-up}');
      await redis.quit();
    }
  }, 60_000);
});

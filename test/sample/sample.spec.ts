import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../support/redis-server';

const root = join(__dirname, '..', '..');

/** One HTTP exchange with the sample. */
function call(port: number, method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `npm run sample`'s app (from source), with the output it printed until it listened. */
async function startSample(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', join(root, 'test', 'support', 'resolve-ts.js'), join(root, 'sample', 'main.ts')],
    { env: { ...process.env, TS_NODE_PROJECT: join(root, 'test', 'tsconfig.json'), NO_COLOR: '1', ...env } },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sample did not start:\n${output}`)), 30_000);
    const listening = (): void => {
      if (output.includes('Sample listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', listening);
    child.on('exit', () => reject(new Error(`the sample exited:\n${output}`)));
  });
  return { child, output: () => output };
}

describe('npm run sample on a machine without Redis', () => {
  let port: number;
  let sample: { child: ChildProcess; output: () => string };

  beforeAll(async () => {
    port = await freePort();
    const noRedis = await freePort();
    sample = await startSample({ PORT: String(port), REDIS_URL: `redis://127.0.0.1:${noRedis}` });
  }, 40_000);

  afterAll(async () => {
    const exited = new Promise((resolve) => sample.child.once('exit', resolve));
    sample.child.kill('SIGTERM');
    await exited;
  });

  it('says so in one line, and runs on the in-memory store', () => {
    const lines = sample.output().split('\n');
    const notices = lines.filter((line) => /Redis/.test(line));
    expect(notices).toEqual([
      expect.stringMatching(
        /No Redis at redis:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\): running on the in-memory store, in this one process\. With a Redis, the locks hold across instances: npm run sample:demo starts two\.$/,
      ),
    ]);
  });

  it('still shows what each route is for: a busy @Locked handler answers 409', async () => {
    const first = call(port, 'POST', '/orders/7/confirm');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await call(port, 'POST', '/orders/7/confirm');
    expect(second).toEqual({
      status: 409,
      body: { statusCode: 409, message: 'The resource is busy; try again later.', error: 'Conflict' },
    });
    expect((await first).status).toBe(201);
  });

  it('sells tickets from the in-memory stock, one at a time', async () => {
    await call(port, 'POST', '/tickets/gig/restock?count=2');
    const purchases = await Promise.all([1, 2, 3].map(() => call(port, 'POST', '/tickets/gig/buy')));
    expect(purchases.map((purchase) => purchase.body.sold).sort()).toEqual([false, true, true]);
    expect((await call(port, 'GET', '/tickets/gig')).body).toEqual({ event: 'gig', stock: 0, sold: 2 });
  });

  it('runs readers together and caps a semaphore at its limit', async () => {
    const previews = await Promise.all([1, 2].map(() => call(port, 'GET', '/reports/42/preview')));
    expect(previews.map((preview) => preview.status)).toEqual([200, 200]);
    const exports = await Promise.all([1, 2, 3].map((id) => call(port, 'POST', `/reports/${id}/export`)));
    expect(exports.map((answer) => answer.status).sort()).toEqual([201, 201, 409]);
  });
});

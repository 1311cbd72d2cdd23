// `npm run sample:demo`: two instances of the sample, 200 concurrent purchases of 100 tickets, without and with the lock.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { probeRedis, SAMPLE_REDIS_URL } from './redis-probe';

const TICKETS = 100;
const PURCHASES = 200;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function call(port: number, method: string, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startInstance(port: number, locks: 'on' | 'off'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(__dirname, 'main.js')], {
    env: { ...process.env, PORT: String(port), LOCKS: locks, SAMPLE_QUIET: '1' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i += 1) {
    try {
      await call(port, 'GET', '/tickets/probe');
      return child;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`instance on port ${port} did not start`);
}

async function round(locks: 'on' | 'off'): Promise<{ sold: number; oversold: number; stock: number }> {
  const ports = [await freePort(), await freePort()];
  const instances = await Promise.all(ports.map((port) => startInstance(port, locks)));
  const event = `demo-${locks}-${Date.now()}`;
  await call(ports[0], 'POST', `/tickets/${event}/restock?count=${TICKETS}`);
  await Promise.all(Array.from({ length: PURCHASES }, (_, i) => call(ports[i % 2], 'POST', `/tickets/${event}/buy`)));
  const stats = (await call(ports[0], 'GET', `/tickets/${event}`)) as { sold: number; stock: number };
  instances.forEach((instance) => instance.kill('SIGTERM'));
  return { sold: stats.sold, oversold: Math.max(0, stats.sold - TICKETS), stock: stats.stock };
}

async function main(): Promise<void> {
  const noRedis = await probeRedis(SAMPLE_REDIS_URL);
  if (noRedis !== undefined) {
    // Two instances share locks and stock through Redis only: without it there is nothing to show.
    console.error(
      `The demo runs two instances that share a Redis, and none answers at ${SAMPLE_REDIS_URL} (${noRedis}). Start one, or set REDIS_URL.`,
    );
    process.exitCode = 1;
    return;
  }
  console.log(`${TICKETS} tickets, ${PURCHASES} concurrent purchases over 2 instances of the sample app.\n`);
  const off = await round('off');
  console.log(`without the lock: ${off.sold} sold, ${off.oversold} oversold (stock left: ${off.stock})`);
  const on = await round('on');
  console.log(`with @Locked:     ${on.sold} sold, ${on.oversold} oversold (stock left: ${on.stock})`);
  process.exitCode = on.oversold === 0 && on.sold === TICKETS ? 0 : 1;
}

void main();

// A CommonJS consumer app (Nest 11) that already has a node-redis client: it passes it as `redis`.
require('reflect-metadata');
const common = require('@nestjs/common');
const core = require('@nestjs/core');
const { createClient } = require('redis');
const nestLock = require('nest-lock');
const { runChecks } = require('./checks.cjs');

async function main() {
  const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  await client.connect();
  await runChecks({ common, core, nestLock, prefix: `compat-node-redis-${process.pid}:`, redis: client });
  if (!client.isOpen) {
    throw new Error('compat check failed: app.close() closed the node-redis client the app passed in');
  }
  console.log('ok - the app’s own node-redis client stays open after app.close()');
  await client.quit();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

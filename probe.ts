import 'reflect-metadata';
import { createContender } from './bench/contenders';
(async () => {
  const c = await createContender('nest-lock', 'redis://127.0.0.1:6379');
  const end = performance.now() + 4000; let done = 0;
  await Promise.all(Array.from({ length: 200 }, async (_, i) => { while (performance.now() < end) { const r = await c.acquire('probe:' + i); await r(); done++; } }));
  console.log(done / 4);
  await c.close();
})();

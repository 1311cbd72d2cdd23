import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP proxy in front of a Redis that can lose one reply on purpose, as a dropped connection would, or be slow. */
export interface CuttingProxy {
  /** The proxy's address, to give a client instead of the Redis'. */
  readonly url: string;
  /**
   * The next reply the Redis sends, on any connection, is not delivered: that connection is cut instead (the command
   * ran; its client never hears so and reconnects).
   */
  cutNextReply(): void;
  /** Every reply from now on is delivered `ms` late, in order (a slow Redis or network); 0 ends it. */
  delayReplies(ms: number): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free port in front of `redisUrl`.
 * @param redisUrl where the Redis is
 */
export async function startCuttingProxy(redisUrl: string): Promise<CuttingProxy> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let cutting = false;
  let delay = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    const pair = [client, upstream];
    pair.forEach((socket) => {
      sockets.add(socket);
      socket.on('error', () => pair.forEach((each) => each.destroy()));
      socket.on('close', () => {
        sockets.delete(socket);
        pair.forEach((each) => each.destroy());
      });
    });
    client.on('data', (chunk) => upstream.write(chunk));
    let delivered = Promise.resolve();
    upstream.on('data', (chunk) => {
      if (cutting) {
        cutting = false;
        pair.forEach((each) => each.destroy());
        return;
      }
      const due = Date.now() + delay;
      delivered = delivered.then(() => sleep(Math.max(0, due - Date.now()))).then(() => void client.write(chunk));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cutNextReply: () => (cutting = true),
    delayReplies: (ms) => (delay = ms),
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

import { EventEmitter } from 'node:events';
import type { RedisSubscriberPort, RedisWaitPipeline } from './redis-connection.port.js';

/**
 * The Redis store's port (what it uses of ioredis' interface), built on one `command()` of another client library
 * (node-redis, Valkey GLIDE), so that the store has one code path for all.
 */
export abstract class ForeignClientAdapter extends EventEmitter implements RedisSubscriberPort {
  /** ioredis' `options`: the other libraries have no key prefix. */
  readonly options = { keyPrefix: undefined };
  /** On a cluster: whether its subscriber connection listens with SSUBSCRIBE (read by the subscriber). */
  shardedSubscribers?: boolean;

  /** ioredis' connection states, as far as the command runner reads them (`ready`, `wait`, `connecting`, `end`). */
  abstract get status(): string;

  /** A subscriber connection of the same kind, owned (and closed) by the store. */
  abstract duplicate(): ForeignClientAdapter;
  /** A cluster's nodes are never asked for: the store only checks that the method exists (see `markCluster`). */
  nodes?: () => never[];
  abstract subscribe(channel: string): Promise<unknown>;
  abstract ssubscribe(channel: string): Promise<unknown>;
  abstract unsubscribe(channel: string): Promise<unknown>;
  abstract sunsubscribe(channel: string): Promise<unknown>;
  abstract quit(): Promise<void>;
  abstract disconnect(): void;

  evalsha(sha: string, keyCount: number, ...rest: Array<string | number>): Promise<unknown> {
    return this.command(rest[0], ['EVALSHA', sha, keyCount, ...rest]);
  }

  eval(source: string, keyCount: number, ...rest: Array<string | number>): Promise<unknown> {
    return this.command(rest[0], ['EVAL', source, keyCount, ...rest]);
  }

  exists(key: string): Promise<unknown> {
    return this.command(key, ['EXISTS', key]);
  }

  /** GET; a value another library returns as bytes comes back as a string, as from ioredis. */
  async get(key: string): Promise<string | null> {
    const value = await this.command(key, ['GET', key]);
    if (typeof value === 'string') {
      return value;
    }
    return Buffer.isBuffer(value) ? value.toString() : null;
  }

  ping(): Promise<unknown> {
    return this.command(undefined, ['PING']);
  }

  script(subcommand: 'LOAD', source: string): Promise<unknown> {
    return this.command(undefined, ['SCRIPT', subcommand, source]);
  }

  /** The store's `exists(key).wait(count, timeout).exec()`: WAIT on the connection (cluster: the node) of `key`. */
  pipeline(): RedisWaitPipeline {
    const settle = (key: string, args: Array<string | number>): Promise<[Error | null, unknown]> =>
      this.command(key, args).then(
        (value): [Error | null, unknown] => [null, value],
        (error: unknown): [Error | null, unknown] => [error instanceof Error ? error : new Error(String(error)), null],
      );
    return {
      exists: (key) => ({
        wait: (count, timeoutMs) => ({
          exec: () => Promise.all([settle(key, ['EXISTS', key]), settle(key, ['WAIT', count, timeoutMs])]),
        }),
      }),
    };
  }

  /**
   * Sends one command to the connection (on a cluster, to the node of `firstKey`).
   * @param firstKey the command's first key, if any
   * @param args the command and its arguments
   */
  protected abstract command(firstKey: string | number | undefined, args: Array<string | number>): Promise<unknown>;

  /** Tells the store that this is a cluster: several keys of one lock may live on different nodes. */
  protected markCluster(sharded: boolean): void {
    this.shardedSubscribers = sharded;
    // Only the store's cluster detection looks at it; it never asks for the nodes.
    this.nodes = () => [];
  }

  /** An EventEmitter throws an 'error' nobody listens to: the app watches its own client's errors. */
  protected reportError(error: unknown): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    }
  }
}

/**
 * A refusal by the server, as ioredis names it (`ReplyError`), so the command runner classifies it the same way.
 * @param message the server's reply (`NOPERM ...`, `NOSCRIPT ...`)
 * @param cause the other library's error
 */
export function replyError(message: string, cause: unknown): Error {
  const reply = new Error(message, { cause });
  reply.name = 'ReplyError';
  return reply;
}

import { EventEmitter } from 'node:events';

/**
 * The part of ioredis' interface the Redis store, its command runner and its subscriber use, built on one
 * `command()` of another client library (node-redis, Valkey GLIDE), so that the store has one code path for all.
 */
export abstract class ForeignClientAdapter extends EventEmitter {
  /** ioredis' `options`: the other libraries have no key prefix. */
  readonly options = { keyPrefix: undefined };
  /** On a cluster: whether its subscriber connection listens with SSUBSCRIBE (read by the subscriber). */
  shardedSubscribers?: boolean;

  /** ioredis' connection states, as far as the command runner reads them (`ready`, `wait`, `connecting`, `end`). */
  abstract get status(): string;

  /** A subscriber connection of the same kind, owned (and closed) by the store. */
  abstract duplicate(): ForeignClientAdapter;
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
  pipeline(): { exists(key: string): unknown } {
    const commands: Array<Array<string | number>> = [];
    let key: string | undefined;
    const chain = {
      exists: (name: string) => {
        key = name;
        commands.push(['EXISTS', name]);
        return chain;
      },
      wait: (count: number, timeout: number) => {
        commands.push(['WAIT', count, timeout]);
        return chain;
      },
      exec: () =>
        Promise.all(
          commands.map((args) =>
            this.command(key, args).then(
              (value) => [null, value] as const,
              (error: unknown) => [error, null] as const,
            ),
          ),
        ),
    };
    return chain;
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
    Object.defineProperty(this, 'nodes', { value: () => [] });
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

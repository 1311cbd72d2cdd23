import { settleWithin } from '../../utils/timer.util.js';
import { ForeignClientAdapter, replyError } from './foreign-client.adapter.js';
import type { RedisConnectionPort } from './redis-connection.port.js';

/** Longest wait for a cluster connection still being opened before it is closed anyway, in ms. */
const CLOSE_AFTER_CONNECT = 2_000;

/**
 * A node-redis v4 or v5 client (`createClient()`) or cluster (`createCluster()`), as far as nest-lock uses it. Pass
 * one as `redis` and the store runs on it: scripts, release notifications on a duplicate connection it opens (and
 * closes), timeouts and error classification as with ioredis. The app keeps owning the client it passed: nest-lock
 * connects it only if it was never open, never closes it, and never reopens it once the app closed it (a lock
 * operation then fails with `LockStoreUnavailableError`).
 */
export interface NodeRedisClient {
  /** The client was connected (`connect()`), and not closed since. */
  readonly isOpen: boolean;
  /** Connects the client; nest-lock calls it only for a client that has never been open. */
  connect(): Promise<unknown>;
  /** A new client with the same options, for the subscriber connection. */
  duplicate(): unknown;
  /** Sends a raw command (a client's `sendCommand(args)`, a cluster's `sendCommand(firstKey, readonly, args)`). */
  sendCommand(...args: never[]): Promise<unknown>;
}

/** What the adapter calls on a node-redis client: the raw shape behind {@link NodeRedisClient}. */
interface NodeRedisRaw {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  connect(): Promise<unknown>;
  duplicate(): NodeRedisRaw;
  sendCommand(...args: unknown[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  sSubscribe?(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sUnsubscribe?(channel: string): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
  destroy?(): void;
}

/**
 * Whether `value` is a node-redis client or cluster (rather than an ioredis one).
 * @param value what the user passed as `redis`
 */
export function isNodeRedisClient(value: unknown): value is NodeRedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    'isOpen' in value &&
    typeof (value as NodeRedisRaw).sendCommand === 'function' &&
    typeof (value as NodeRedisRaw).duplicate === 'function'
  );
}

/**
 * Presents a node-redis client with the part of ioredis' interface the Redis store uses, so the store, its
 * command runner and its subscriber have one code path for both libraries.
 * @param client the app's node-redis client or cluster
 */
export function adaptNodeRedis(client: NodeRedisClient): RedisConnectionPort {
  return new NodeRedisConnection(client as unknown as NodeRedisRaw, false);
}

/** node-redis' reply errors (`ErrorReply` in v4, `SimpleError` and others extending it in v5) are ioredis' `ReplyError`. */
function asIoredisError(error: unknown): unknown {
  if (!(error instanceof Error)) {
    return error;
  }
  for (
    let proto: object | null = Object.getPrototypeOf(error) as object | null;
    proto;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError') {
      return replyError(error.message, error);
    }
  }
  return error;
}

class NodeRedisConnection extends ForeignClientAdapter {
  private readonly cluster: boolean;
  private connecting?: Promise<unknown>;
  private closed = false;
  /** The client has been open: closed now, it was closed by its owner (the app, or this adapter), not yet to open. */
  private wasOpen: boolean;

  constructor(
    private readonly client: NodeRedisRaw,
    private readonly owned: boolean,
  ) {
    super();
    this.wasOpen = client.isOpen;
    // A cluster has no isReady; its commands take a slot's key first.
    this.cluster = !('isReady' in client);
    if (this.cluster) {
      this.markCluster(typeof client.sSubscribe === 'function');
    }
    // The client's events reach it only while someone here listens: stores made on the app's client and closed
    // again leave no listener on it.
    const forwards: Record<string, [string, (...args: unknown[]) => void]> = {
      ready: ['ready', () => this.emit('ready')],
      error: ['error', (error) => this.reportError(error)],
      close: ['reconnecting', () => this.emit('close')],
      end: ['end', () => this.emit('end')],
    };
    this.on('newListener', (event: string) => {
      const forward = forwards[event];
      if (forward && this.listenerCount(event) === 0) {
        client.on(...forward);
      }
    });
    this.on('removeListener', (event: string) => {
      const forward = forwards[event];
      if (forward && this.listenerCount(event) === 0) {
        client.off(...forward);
      }
    });
  }

  get status(): string {
    if (this.ended) {
      return 'end';
    }
    if (!this.client.isOpen) {
      return this.connecting ? 'connecting' : 'wait';
    }
    return this.client.isReady === false ? 'connecting' : 'ready';
  }

  /**
   * Closed for good: by this adapter, or by the app after it had been open. The app's client is the app's: a lock
   * operation on it once it was closed fails as an unreachable store, and never opens it again (an open connection
   * would keep the process alive).
   */
  private get ended(): boolean {
    if (this.client.isOpen) {
      this.wasOpen = true;
      return false;
    }
    return this.closed || this.wasOpen;
  }

  duplicate(): NodeRedisConnection {
    const copy = new NodeRedisConnection(this.client.duplicate(), true);
    copy.connect();
    return copy;
  }

  async subscribe(channel: string): Promise<unknown> {
    // A cluster routes a subscription by the slots it learns while connecting.
    await this.connecting;
    return this.client
      .subscribe(channel, (message, from) => this.emit('message', from, message))
      .catch((error: unknown) => {
        throw asIoredisError(error);
      });
  }

  async ssubscribe(channel: string): Promise<unknown> {
    if (!this.client.sSubscribe) {
      throw new Error('unknown command SSUBSCRIBE in this client');
    }
    await this.connecting;
    return this.client.sSubscribe(channel, (message, from) => this.emit('smessage', from, message));
  }

  unsubscribe(channel: string): Promise<unknown> {
    return this.client.unsubscribe(channel);
  }

  sunsubscribe(channel: string): Promise<unknown> {
    return this.client.sUnsubscribe?.(channel) ?? Promise.resolve();
  }

  async quit(): Promise<void> {
    if (this.owned && !this.closed) {
      this.closed = true;
      await (this.client.close ?? this.client.quit)?.call(this.client);
    }
  }

  disconnect(): void {
    if (!this.owned || this.closed) {
      return;
    }
    this.closed = true;
    const close = (): void => {
      if (this.client.isOpen) {
        const closing = this.client.destroy ? Promise.resolve(this.client.destroy()) : this.client.disconnect?.();
        void closing?.catch(() => undefined);
      }
    };
    // A cluster closed while it discovers its nodes still opens them afterwards: close it once it is connected, or
    // after a while if it does not connect (its nodes are gone).
    const connected = this.cluster && this.connecting ? settleWithin(this.connecting, CLOSE_AFTER_CONNECT) : Promise.resolve();
    void connected.then(close);
  }

  protected command(firstKey: string | number | undefined, args: Array<string | number>): Promise<unknown> {
    if (this.ended) {
      return Promise.reject(
        new Error(
          this.owned
            ? 'the connection was closed'
            : 'the node-redis client passed as redis was closed by the app (nest-lock never reopens it)',
        ),
      );
    }
    if (!this.client.isOpen) {
      this.connect();
    }
    const strings = args.map(String);
    const sent = this.cluster
      ? this.client.sendCommand(firstKey === undefined ? undefined : String(firstKey), false, strings)
      : this.client.sendCommand(strings);
    return sent.catch((error: unknown) => {
      throw asIoredisError(error);
    });
  }

  private connect(): void {
    this.connecting ??= this.client.connect().then(
      () => (this.wasOpen = true),
      (error: unknown) => this.reportError(error),
    );
  }
}

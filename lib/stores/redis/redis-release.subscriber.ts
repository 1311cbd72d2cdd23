import type { LockReleaseWatch, LockStoreGrant } from '../../interfaces/index.js';
import type { LockLogger } from '../../lock.logger.js';
import { ReleaseLatch } from '../release.latch.js';
import { FENCE_BLOCK } from '../../lock.constants.js';
import { ForeignClientAdapter } from './foreign-client.adapter.js';
import type { RedisSubscriberPort } from './redis-connection.port.js';
import { ANYONE, GRANTED, KEPT, WOKEN } from './redis-lua.snippets.js';

/** What watchers of a channel hear when its connection came back: anything may have happened meanwhile. */
const RECONNECTED = '';

/** How long a channel stays subscribed after its last waiter left: a contended key is not re-subscribed per wait. */
const LINGER = 5_000;

type Listener = (payload: string) => void;

/**
 * A channel's subscription: `pending` until Redis confirms it; `live` while the connection is up; `down` while it is
 * reconnecting (ioredis subscribes again on its own); `failed` if Redis refused it (the next watcher asks again).
 */
type ChannelState = 'pending' | 'live' | 'down' | 'failed';

interface ChannelEntry {
  readonly listeners: Set<Listener>;
  subscribed: Promise<void>;
  state: ChannelState;
  linger?: NodeJS.Timeout;
}

/** Options of {@link RedisReleaseSubscriber}. */
export interface RedisReleaseSubscriberOptions {
  /**
   * Creates the dedicated connection (connecting lazily, on its first subscription). On a Cluster, it should ask
   * ioredis for sharded subscribers (`shardedSubscribers: true`).
   */
  connect: () => RedisSubscriberPort;
  /** The store talks to a Cluster: sharded pub/sub is used where ioredis and the server have it. */
  cluster: boolean;
  /** The client's `keyPrefix`, which channel names carry and ioredis adds to sharded channels itself. */
  keyPrefix: string;
  /** Where subscription trouble is reported. */
  logger: LockLogger;
}

/**
 * One subscriber connection per store, multiplexed over every channel a waiter of this process watches.
 * Channels are reference-counted: subscribed for the first watcher, unsubscribed a while after the last.
 * On a Cluster it listens with SSUBSCRIBE on each key's shard (Redis 7 sharded pub/sub) when ioredis can.
 */
export class RedisReleaseSubscriber {
  private connection?: RedisSubscriberPort;
  private readonly channels = new Map<string, ChannelEntry>();
  /** ioredis gave the Cluster connection sharded subscribers (ioredis 5.6 and later); undefined until probed. */
  private shardedClient?: boolean;
  /** The server refused SSUBSCRIBE (Redis before 7): classic pub/sub after all. */
  private shardedRefused = false;

  /** @param options how to connect, and what to */
  constructor(private readonly options: RedisReleaseSubscriberOptions) {}

  /**
   * Whether releases must be published with SPUBLISH for this subscriber to hear them: on a Cluster whose
   * client supports sharded subscribers. (The scripts fall back to PUBLISH where the server lacks SPUBLISH, as
   * the subscriber falls back to SUBSCRIBE.)
   */
  get sharded(): boolean {
    if (!this.options.cluster) {
      return false;
    }
    if (this.shardedClient === undefined) {
      this.ensureConnection();
    }
    return this.shardedClient === true;
  }

  /**
   * Opens a watch on the channels for the waiter `token`.
   * @param channels full channel names
   * @param token the waiter's token: it wakes for messages naming it, or anyone
   * @param onlyIfLive return `undefined` unless every channel is subscribed already
   */
  watch(channels: readonly string[], token: string, onlyIfLive = false): LockReleaseWatch | undefined {
    if (onlyIfLive && !channels.every((channel) => this.channels.get(channel)?.state === 'live')) {
      return undefined;
    }
    return new ReleaseWatch(this, channels, channels.length === 1 ? token : undefined);
  }

  /** @internal */
  add(channel: string, listener: Listener): Promise<void> {
    const entry = this.channels.get(channel) ?? { listeners: new Set<Listener>(), subscribed: Promise.resolve(), state: 'failed' };
    clearTimeout(entry.linger);
    entry.linger = undefined;
    entry.listeners.add(listener);
    this.channels.set(channel, entry);
    if (entry.state === 'failed') {
      entry.state = 'pending';
      entry.subscribed = this.subscribe(channel).then(
        () => {
          entry.state = entry.state === 'pending' ? 'live' : entry.state;
        },
        (error: unknown) => {
          // The waiter still re-checks at the holder's lease end; a subscription only makes it faster.
          entry.state = 'failed';
          this.options.logger.debug(`Could not subscribe to release notifications: ${String(error)}`);
        },
      );
    }
    return entry.subscribed;
  }

  /** @internal */
  remove(channel: string, listener: Listener): void {
    const entry = this.channels.get(channel);
    if (!entry?.listeners.delete(listener) || entry.listeners.size > 0) {
      return;
    }
    entry.linger = setTimeout(() => {
      this.channels.delete(channel);
      this.unsubscribe(channel).catch(() => undefined);
    }, LINGER).unref();
  }

  /** Closes the connection, if one was opened. */
  async close(): Promise<void> {
    for (const entry of this.channels.values()) {
      clearTimeout(entry.linger);
    }
    this.channels.clear();
    const connection = this.connection;
    this.connection = undefined;
    connection?.disconnect();
  }

  private subscribe(channel: string): Promise<unknown> {
    const connection = this.ensureConnection();
    if (!this.useSharded()) {
      return connection.subscribe(channel);
    }
    return connection.ssubscribe(this.unprefixed(channel)).catch((error: unknown) => {
      if (!/unknown command/i.test(String(error))) {
        throw error;
      }
      this.shardedRefused = true;
      return connection.subscribe(channel);
    });
  }

  private unsubscribe(channel: string): Promise<unknown> {
    if (!this.connection) {
      return Promise.resolve();
    }
    return this.useSharded() ? this.connection.sunsubscribe(this.unprefixed(channel)) : this.connection.unsubscribe(channel);
  }

  private useSharded(): boolean {
    return this.shardedClient === true && !this.shardedRefused;
  }

  /** Sharded channels are keys to ioredis, which adds `keyPrefix` to them itself. */
  private unprefixed(channel: string): string {
    return channel.slice(this.options.keyPrefix.length);
  }

  private ensureConnection(): RedisSubscriberPort {
    if (!this.connection) {
      const connection = this.options.connect();
      // ioredis before 5.6 ignores `shardedSubscribers` and has no subscriber group: probe for it.
      this.shardedClient = this.options.cluster && (connection as { shardedSubscribers?: unknown }).shardedSubscribers !== undefined;
      connection.on('error', (error: Error) => this.options.logger.debug(`Subscriber connection: ${error.message}`));
      for (const event of ['message', 'smessage']) {
        connection.on(event, (channel: string, payload: string) => this.notify(channel, payload));
      }
      // Only channels Redis had accepted come back (the client subscribes to them again); a refused one stays
      // refused. Messages published while the connection was down are lost: once it is back, every watcher of a
      // channel that came back is woken to ask Redis again (a hand-off made meanwhile is found that way).
      const down = (): void => this.channels.forEach((entry) => (entry.state = entry.state === 'live' ? 'down' : entry.state));
      const back = (): void => void this.resubscribed(connection).then(() => this.wakeAfterReconnect());
      connection.on('close', down);
      connection.on('-subscriber', down);
      connection.on('ready', back);
      connection.on('subscribersReady', back);
      this.connection = connection;
    }
    return this.connection;
  }

  /**
   * Resolves once the client's own re-subscription after a reconnect has reached Redis. ioredis announces `ready`
   * before it sends it: a PING sent after it on the same connection is answered after it. The other clients
   * announce `ready` once they have subscribed again.
   */
  private async resubscribed(connection: RedisSubscriberPort): Promise<void> {
    if (connection instanceof ForeignClientAdapter || this.options.cluster) {
      return;
    }
    await new Promise((resolve) => setImmediate(resolve));
    await connection.ping().catch(() => undefined);
  }

  private wakeAfterReconnect(): void {
    for (const [channel, entry] of this.channels) {
      if (entry.state === 'down') {
        entry.state = 'live';
        this.notify(channel, RECONNECTED);
      }
    }
  }

  private notify(channel: string, payload: string): void {
    for (const listener of this.channels.get(channel)?.listeners ?? []) {
      listener(payload);
    }
  }
}

class ReleaseWatch implements LockReleaseWatch {
  readonly ready: Promise<void>;
  private readonly latch = new ReleaseLatch();
  private readonly listener: Listener;

  /**
   * @param token wake only for messages naming this waiter (or anyone); undefined wakes on every release
   */
  constructor(
    private readonly subscriber: RedisReleaseSubscriber,
    private readonly channels: readonly string[],
    token: string | undefined,
  ) {
    this.listener = (payload) => {
      if (payload === ANYONE || payload === RECONNECTED) {
        this.latch.notify();
        return;
      }
      const [kind, grantee, fencingToken, lease] = payload.split(' ');
      if (kind === KEPT) {
        // Released, but kept for a minimum hold: free when that ends, which publishes nothing.
        this.latch.recheckWithin(Number(grantee) + 1);
        return;
      }
      if (kind === WOKEN) {
        // Free, and the head of the queue was woken to take it; if it does not, the others may try soon.
        if (grantee === token || token === undefined) {
          this.latch.notify();
        } else {
          this.latch.recheckWithin(Number(fencingToken) + 1);
        }
        return;
      }
      if (kind !== GRANTED) {
        return;
      }
      if (grantee === token) {
        this.latch.notify({ fencingToken: Number(fencingToken), lease: Number(lease), reserved: FENCE_BLOCK });
      } else if (token === undefined) {
        this.latch.notify();
      } else {
        // Someone else holds it now; if that holder died, its lease is the longest this waiter should sleep.
        this.latch.recheckWithin(Number(lease) + 1);
      }
    };
    this.ready = Promise.all(channels.map((channel) => subscriber.add(channel, this.listener))).then(() => undefined);
  }

  next(timeout: number, signal?: AbortSignal): Promise<LockStoreGrant | undefined> {
    return this.latch.wait(timeout, signal);
  }

  close(): void {
    for (const channel of this.channels) {
      this.subscriber.remove(channel, this.listener);
    }
  }
}

import type { Cluster, Redis } from 'ioredis';
import type { LockReleaseWatch, LockStoreGrant } from '../interfaces/index.js';
import type { LockLogger } from '../lock.logger.js';
import { ReleaseLatch } from './release.latch.js';
import { ANYONE, GRANTED } from './redis-lock.scripts.js';

/** How long a channel stays subscribed after its last waiter left: a contended key is not re-subscribed per wait. */
const LINGER = 5_000;

type Listener = (payload: string) => void;

interface ChannelEntry {
  readonly listeners: Set<Listener>;
  readonly subscribed: Promise<void>;
  live: boolean;
  linger?: NodeJS.Timeout;
}

/**
 * One subscriber connection per store, multiplexed over every channel a waiter of this process watches.
 * Channels are reference-counted: subscribed for the first watcher, unsubscribed a while after the last.
 */
export class RedisReleaseSubscriber {
  private connection?: Redis | Cluster;
  private readonly channels = new Map<string, ChannelEntry>();

  /**
   * @param connect opens the dedicated connection, the first time a waiter needs it
   * @param logger where subscription trouble is reported
   */
  constructor(
    private readonly connect: () => Redis | Cluster,
    private readonly logger: LockLogger,
  ) {}

  /**
   * Opens a watch on the channels for the waiter `token`.
   * @param channels full channel names
   * @param token the waiter's token: it wakes for messages naming it, or anyone
   * @param onlyIfLive return `undefined` unless every channel is subscribed already
   */
  watch(channels: readonly string[], token: string, onlyIfLive = false): LockReleaseWatch | undefined {
    if (onlyIfLive && !channels.every((channel) => this.channels.get(channel)?.live)) {
      return undefined;
    }
    return new ReleaseWatch(this, channels, channels.length === 1 ? token : undefined);
  }

  /** @internal */
  add(channel: string, listener: Listener): Promise<void> {
    const existing = this.channels.get(channel);
    if (existing) {
      clearTimeout(existing.linger);
      existing.linger = undefined;
      existing.listeners.add(listener);
      return existing.subscribed;
    }
    const entry: ChannelEntry = {
      listeners: new Set([listener]),
      live: false,
      subscribed: this.ensureConnection()
        .subscribe(channel)
        .then(
          () => {
            entry.live = true;
          },
          (error: unknown) => {
            // The waiter still re-checks at the holder's lease end; a subscription only makes it faster.
            this.logger.debug(`Could not subscribe to release notifications: ${String(error)}`);
          },
        ),
    };
    this.channels.set(channel, entry);
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
      this.connection?.unsubscribe(channel).catch(() => undefined);
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

  private ensureConnection(): Redis | Cluster {
    if (!this.connection) {
      const connection = this.connect();
      connection.on('error', (error: Error) => this.logger.debug(`Subscriber connection: ${error.message}`));
      connection.on('message', (channel: string, payload: string) => this.notify(channel, payload));
      // Messages published while the connection was down are lost: those waiters re-check at the lease end.
      connection.on('close', () => this.channels.forEach((entry) => (entry.live = false)));
      connection.on('ready', () => this.channels.forEach((entry) => (entry.live = true)));
      this.connection = connection;
    }
    return this.connection;
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
      if (payload === ANYONE) {
        this.latch.notify();
        return;
      }
      const [kind, grantee, fencingToken, lease] = payload.split(' ');
      if (kind !== GRANTED) {
        return;
      }
      if (grantee === token) {
        this.latch.notify({ fencingToken: Number(fencingToken), lease: Number(lease) });
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

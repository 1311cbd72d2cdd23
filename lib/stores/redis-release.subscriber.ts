import type { Cluster, Redis } from 'ioredis';
import type { LockReleaseWatch } from '../interfaces/index.js';
import type { LockLogger } from '../lock.logger.js';
import { ReleaseLatch } from './release.latch.js';

interface ChannelEntry {
  readonly listeners: Set<() => void>;
  readonly subscribed: Promise<void>;
}

/**
 * One subscriber connection per store, multiplexed over every channel a waiter of this process watches.
 * Channels are reference-counted: subscribed for the first watcher, unsubscribed after the last.
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
   * Opens a watch on the channels.
   * @param channels full channel names
   */
  watch(channels: readonly string[]): LockReleaseWatch {
    return new ReleaseWatch(this, channels);
  }

  /** @internal */
  add(channel: string, listener: () => void): Promise<void> {
    const existing = this.channels.get(channel);
    if (existing) {
      existing.listeners.add(listener);
      return existing.subscribed;
    }
    const subscribed = this.ensureConnection()
      .subscribe(channel)
      .then(
        () => undefined,
        (error: unknown) => {
          // The waiter still re-checks at the holder's lease end; a subscription only makes it faster.
          this.logger.debug(`Could not subscribe to release notifications: ${String(error)}`);
        },
      );
    this.channels.set(channel, { listeners: new Set([listener]), subscribed });
    return subscribed;
  }

  /** @internal */
  remove(channel: string, listener: () => void): void {
    const entry = this.channels.get(channel);
    if (!entry?.listeners.delete(listener) || entry.listeners.size > 0) {
      return;
    }
    this.channels.delete(channel);
    this.connection?.unsubscribe(channel).catch(() => undefined);
  }

  /** Closes the connection, if one was opened. */
  async close(): Promise<void> {
    this.channels.clear();
    const connection = this.connection;
    this.connection = undefined;
    connection?.disconnect();
  }

  private ensureConnection(): Redis | Cluster {
    if (!this.connection) {
      const connection = this.connect();
      connection.on('error', (error: Error) => this.logger.debug(`Subscriber connection: ${error.message}`));
      connection.on('message', (channel: string) => this.notify(channel));
      this.connection = connection;
    }
    return this.connection;
  }

  private notify(channel: string): void {
    for (const listener of this.channels.get(channel)?.listeners ?? []) {
      listener();
    }
  }
}

class ReleaseWatch implements LockReleaseWatch {
  readonly ready: Promise<void>;
  private readonly latch = new ReleaseLatch();

  constructor(
    private readonly subscriber: RedisReleaseSubscriber,
    private readonly channels: readonly string[],
  ) {
    this.ready = Promise.all(channels.map((channel) => subscriber.add(channel, this.latch.notify))).then(
      () => undefined,
    );
  }

  next(timeout: number, signal?: AbortSignal): Promise<void> {
    return this.latch.wait(timeout, signal);
  }

  close(): void {
    for (const channel of this.channels) {
      this.subscriber.remove(channel, this.latch.notify);
    }
  }
}

import { ForeignClientAdapter, replyError } from './foreign-client.adapter.js';
import type { RedisConnectionPort } from './redis-connection.port.js';

/**
 * A Valkey GLIDE 2 client (`GlideClient` or `GlideClusterClient` from `@valkey/valkey-glide`), as far as nest-lock
 * uses it. Pass one as `redis` and the store runs on it: scripts, release notifications on a second client it
 * creates from the same configuration (and closes), timeouts and error classification as with ioredis. The app
 * keeps owning the client it passed.
 */
export interface GlideRedisClient {
  /** Sends a raw command. */
  customCommand(...args: never[]): Promise<unknown>;
  /** Reads the next pub/sub message (used on the store's own subscriber client). */
  getPubSubMessage(): Promise<unknown>;
  /** Closes the client. */
  close(errorMessage?: string): void;
}

/** What the adapter calls on a GLIDE client: the raw shape behind {@link GlideRedisClient}. */
interface GlideRaw {
  customCommand(args: string[], options?: { route?: { type: 'primarySlotKey'; key: string } }): Promise<unknown>;
  getPubSubMessage(): Promise<{ message: unknown; channel: unknown }>;
  subscribe(channels: Set<string>, timeoutMs: number): Promise<void>;
  ssubscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  unsubscribe(channels: Set<string>, timeoutMs: number): Promise<void>;
  sunsubscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  close(): void;
  /** The configuration the client was created with (kept by GLIDE on every client). */
  readonly config?: object;
  readonly constructor: { createClient?(config: object): Promise<GlideRaw> };
}

/** How long a subscription may take to be confirmed; the command runner bounds the caller's wait anyway. */
const SUBSCRIBE_TIMEOUT = 5_000;

/** Redis reply codes of the error kinds GLIDE reports by name. */
const GLIDE_REPLY_CODES: Readonly<Record<string, string>> = {
  NoScriptError: 'NOSCRIPT',
  PermissionDenied: 'NOPERM',
  AuthenticationFailed: 'WRONGPASS',
  BusyLoadingError: 'LOADING',
  MasterDown: 'MASTERDOWN',
  ReadOnly: 'READONLY',
  ClusterDown: 'CLUSTERDOWN',
  TryAgain: 'TRYAGAIN',
};

/** The server's reply inside GLIDE's RequestError message. */
const SERVER_REPLY = /signalled by the server: - (.*)$/s;

/**
 * Whether `value` is a Valkey GLIDE client.
 * @param value what the user passed as `redis`
 */
export function isGlideClient(value: unknown): value is GlideRedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as GlideRaw).customCommand === 'function' &&
    typeof (value as GlideRaw).getPubSubMessage === 'function'
  );
}

/**
 * Presents a GLIDE client with the part of ioredis' interface the Redis store uses.
 * @param client the app's GLIDE client
 */
export function adaptGlide(client: GlideRedisClient): RedisConnectionPort {
  return new GlideConnection(Promise.resolve(client as unknown as GlideRaw), client as unknown as GlideRaw);
}

/** GLIDE reports server refusals as `RequestError: An error was signalled by the server: - <reply>`. */
function asIoredisError(error: unknown): unknown {
  if (!(error instanceof Error) || error.name === 'TimeoutError' || error.name === 'ConnectionError' || error.name === 'ClosingError') {
    return error;
  }
  const reply = SERVER_REPLY.exec(error.message)?.[1];
  if (reply === undefined) {
    return error;
  }
  // GLIDE names some replies by kind (`NoScriptError: ...`): give them their Redis code back, which the command
  // runner reads (NOSCRIPT sends the script whole; LOADING and the like mean "not now").
  const kind = /^(\w+):/.exec(reply)?.[1];
  const code = kind === undefined ? undefined : GLIDE_REPLY_CODES[kind];
  return replyError(code === undefined ? reply : `${code} ${reply}`, error);
}

class GlideConnection extends ForeignClientAdapter {
  private readonly cluster: boolean;
  private closed = false;

  /**
   * @param client the client, once created (the store's subscriber client is created asynchronously)
   * @param template a client of the same kind, for its class and configuration
   * @param owned the store created it, and closes it
   */
  constructor(
    private readonly client: Promise<GlideRaw>,
    private readonly template: GlideRaw,
    private readonly owned = false,
  ) {
    super();
    this.cluster = typeof template.ssubscribe === 'function';
    if (this.cluster) {
      this.markCluster(true);
    }
    client.catch((error: unknown) => this.reportError(error));
  }

  /** GLIDE reconnects on its own and queues nothing: a command while it is down fails, which the runner reports. */
  get status(): string {
    return this.closed ? 'end' : 'ready';
  }

  duplicate(): GlideConnection {
    const glideClass = this.template.constructor;
    const config = this.template.config;
    const client =
      glideClass.createClient && config
        ? glideClass.createClient({ ...config })
        : Promise.reject(new Error('this GLIDE client does not expose its configuration; cannot open a subscriber'));
    const copy = new GlideConnection(client, this.template, true);
    void client.then(
      (subscriber) => copy.listen(subscriber),
      () => undefined,
    );
    return copy;
  }

  async subscribe(channel: string): Promise<unknown> {
    return (await this.client).subscribe(new Set([channel]), SUBSCRIBE_TIMEOUT);
  }

  async ssubscribe(channel: string): Promise<unknown> {
    const client = await this.client;
    if (!client.ssubscribe) {
      throw new Error('unknown command SSUBSCRIBE in this client');
    }
    return client.ssubscribe(new Set([channel]), SUBSCRIBE_TIMEOUT);
  }

  async unsubscribe(channel: string): Promise<unknown> {
    return (await this.client).unsubscribe(new Set([channel]), SUBSCRIBE_TIMEOUT);
  }

  async sunsubscribe(channel: string): Promise<unknown> {
    return (await this.client).sunsubscribe?.(new Set([channel]), SUBSCRIBE_TIMEOUT);
  }

  async quit(): Promise<void> {
    this.disconnect();
  }

  disconnect(): void {
    if (this.owned && !this.closed) {
      this.closed = true;
      void this.client.then(
        (client) => client.close(),
        () => undefined,
      );
    }
  }

  protected async command(firstKey: string | number | undefined, args: Array<string | number>): Promise<unknown> {
    const client = await this.client;
    const strings = args.map(String);
    // A cluster routes a script by its first key; PING may go anywhere.
    const options =
      this.cluster && firstKey !== undefined ? { route: { type: 'primarySlotKey' as const, key: String(firstKey) } } : undefined;
    return client.customCommand(strings, options).catch((error: unknown) => {
      throw asIoredisError(error);
    });
  }

  /** Delivers the subscriber client's messages as ioredis events, until the client is closed. */
  private async listen(subscriber: GlideRaw): Promise<void> {
    const event = this.cluster ? 'smessage' : 'message';
    while (!this.closed) {
      const received = await subscriber.getPubSubMessage().catch(() => undefined);
      if (!received) {
        return;
      }
      this.emit(event, String(received.channel), String(received.message));
    }
  }
}

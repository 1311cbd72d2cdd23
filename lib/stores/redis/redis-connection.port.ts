/**
 * The commands and events the Redis store uses of a connection, and nothing more: an ioredis `Redis` or `Cluster`
 * has them as it is; a node-redis or Valkey GLIDE client is adapted to them (see `ForeignClientAdapter`). A method the
 * store starts to use must be added here, where the compiler then asks every client for it.
 */
export interface RedisConnectionPort {
  /** ioredis' connection state, as far as the store reads it: `ready`, `wait`, `connecting`, `reconnecting`, `end`. */
  readonly status: string;
  /** The client's options; only `keyPrefix` (ioredis' key prefix, which channel names carry) is read. */
  readonly options: { readonly keyPrefix?: string };
  evalsha(sha: string, numKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>;
  eval(source: string, numKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>;
  script(subcommand: 'LOAD', source: string): Promise<unknown>;
  exists(key: string): Promise<unknown>;
  get(key: string): Promise<string | null>;
  ping(): Promise<unknown>;
  /** `WAIT` on the connection (on a cluster, the node) of a key: `pipeline().exists(key).wait(count, ms).exec()`. */
  pipeline(): RedisWaitPipeline;
  /** On a cluster only: its primaries (the store loads its scripts on each); the other clients give none. */
  nodes?(role: 'master'): RedisConnectionPort[];
  /** A connection of the same kind for the subscriber, owned (and closed) by the store. */
  duplicate(): RedisSubscriberPort;
  on(event: string, listener: RedisEventListener): unknown;
  once(event: string, listener: RedisEventListener): unknown;
  off(event: string, listener: RedisEventListener): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The subscriber connection: a {@link RedisConnectionPort} that also (un)subscribes, classic and sharded. */
export interface RedisSubscriberPort extends RedisConnectionPort {
  subscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
}

/** The pipeline the store sends `EXISTS` + `WAIT` through, so that `WAIT` runs on the key's node. */
export interface RedisWaitPipeline {
  exists(key: string): { wait(count: number, timeoutMs: number): { exec(): Promise<Array<[Error | null, unknown]> | null> } };
}

/** A listener of a connection's events; each event has its own arguments, as with Node's `EventEmitter`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type, which ioredis' clients have
export type RedisEventListener = (...args: any[]) => void;

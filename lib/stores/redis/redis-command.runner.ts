import { LockError, LockStoreUnavailableError } from '../../errors/index.js';
import type { LockLogger } from '../../lock.logger.js';
import { startTimer } from '../../utils/timer.util.js';
import { isAuthFailure } from '../../utils/store-failure.util.js';
import type { LockScript, ScriptCall } from './redis-script.js';
import type { RedisConnectionPort } from './redis-connection.port.js';
import type { RedisScriptLoader } from './redis-script.loader.js';
import { formatKeys } from '../../utils/lock-keys.util.js';

/** Replies that mean "not now" rather than "never": the server is loading, failing over or busy. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN)\b/;

/** What one exchange is about, for error messages: the operation and the lock keys as the caller named them. */
export interface RedisOperation {
  readonly name: string;
  readonly keys: readonly string[];
}

/** How a script runs: its timeout handling as any exchange's, and how it is sent. */
export interface RedisScriptOptions extends Pick<RedisExchangeOptions, 'onTimeout'> {
  /**
   * A give-back a later command of the same token may follow: sent whole (EVAL), so that it runs where it was sent
   * among this connection's commands. By SHA, a Redis that forgot the script would refuse it, and the script sent
   * again after that answer could run behind the later command and undo it.
   */
  whole?: boolean;
}

/** How one exchange runs. */
export interface RedisExchangeOptions {
  /** Called when the exchange did not answer in time (it may still run on the server). */
  onTimeout?: () => void;
  /** The exchange may be sent after its caller gave up on it (a token-checked clean-up). */
  late?: boolean;
  /** ms the command itself may block on the server (WAIT), on top of `commandTimeout`. */
  blocksFor?: number;
}

/** Options of {@link RedisCommandRunner}. */
export interface RedisCommandRunnerOptions {
  readonly client: RedisConnectionPort;
  readonly commandTimeout: number;
  readonly logger: LockLogger;
  /** Log an outage once, and the recovery (for a client the module created; the app watches its own). */
  readonly reportOutages: boolean;
  /** Puts the store's scripts in Redis's cache. */
  readonly scripts: RedisScriptLoader;
  /**
   * Leave a failure to connect before the client was ever ready to whoever asked (the start-up check reports it);
   * outages after that are logged.
   */
  readonly quietUntilReady?: boolean;
}

/**
 * Runs the store's exchanges with Redis: scripts by SHA (sent whole when Redis does not know them), each within
 * `commandTimeout`, never queued on a connection that is down, with connection trouble turned into
 * `LockStoreUnavailableError` and refusals into a `LockError` that names the reply.
 */
export class RedisCommandRunner {
  private readonly client: RedisConnectionPort;
  private ready?: Promise<void>;
  /** Why the connection failed last, while it is down: the cause a failed command names. */
  private lastConnectionError?: Error;
  private drops = 0;
  private readonly dropped = (): void => void (this.drops += 1);

  /** @param options the client and how to run commands on it */
  constructor(private readonly options: RedisCommandRunnerOptions) {
    this.client = options.client;
    this.client.on('close', this.dropped);
    if (options.reportOutages) {
      this.reportOutages();
    }
  }

  /**
   * How many times the connection was lost so far: an exchange during which it changed may have run twice (ioredis
   * sends a command again when the connection that carried it dropped before the answer).
   */
  get connectionDrops(): number {
    return this.drops;
  }

  /** Stops watching the client (the app's own client outlives the store). */
  close(): void {
    this.client.off('close', this.dropped);
  }

  /**
   * Runs a script with EVALSHA, falling back to EVAL when Redis forgot it, or whole when `options.whole` says so. Sent
   * once the scripts are in Redis's cache after a (re)connection (see {@link RedisScriptLoader}), so that scripts go
   * out in the order they were run.
   * @param script the script
   * @param call its KEYS and ARGV (see `LockScript.call`)
   * @param operation what it is about
   * @param options timeout handling, and how it is sent
   */
  script(script: LockScript, call: ScriptCall, operation: RedisOperation, options: RedisScriptOptions = {}): Promise<unknown> {
    const { keys, args } = call;
    const sendWhole = (): Promise<unknown> => this.client.eval(script.source, keys.length, ...keys, ...args);
    const send = (): Promise<unknown> =>
      options.whole
        ? sendWhole()
        : this.client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
            if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
              return sendWhole();
            }
            throw error;
          });
    const exchange = (): Promise<unknown> => this.options.scripts.pending()?.then(send) ?? send();
    return this.run(operation, exchange, { onTimeout: options.onTimeout, late: script.idempotent });
  }

  /**
   * Runs one exchange with Redis within `commandTimeout`. An exchange still waiting for the connection when its
   * time is up is dropped, unless `late` says it is harmless to run it whenever it can.
   * @param operation what it is about
   * @param exchange sends the command(s)
   * @param options timeout handling
   */
  run<T>(operation: RedisOperation, exchange: () => Promise<T>, options: RedisExchangeOptions = {}): Promise<T> {
    const limit = this.options.commandTimeout + (options.blocksFor ?? 0);
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const timer = startTimer(
        () => {
          expired = true;
          options.onTimeout?.();
          const cause = this.lastConnectionError && { cause: this.lastConnectionError };
          reject(new LockStoreUnavailableError(describe(operation), new Error(`no answer within ${limit} ms`, cause)));
        },
        limit,
        false,
      );
      const status = this.client.status;
      const sendWhenReady = (): Promise<T> =>
        expired && !options.late ? Promise.reject(new Error('gave up before the connection was ready')) : exchange();
      const sent = status === 'ready' || status === 'wait' ? exchange() : this.whenReady().then(sendWhenReady);
      sent.then(
        (value) => {
          timer.clear();
          resolve(value);
        },
        (error: unknown) => {
          timer.clear();
          reject(classify(this.rootOf(error), describe(operation)));
        },
      );
    });
  }

  private whenReady(): Promise<void> {
    if (this.client.status === 'end') {
      return Promise.reject(new Error('the connection was closed'));
    }
    // Waiting here instead of sending keeps commands out of ioredis' offline queue, where they would run
    // long after their caller gave up.
    this.ready ??= new Promise((resolve) =>
      this.client.once('ready', () => {
        this.ready = undefined;
        resolve();
      }),
    );
    return this.ready;
  }

  /** ioredis gives up on a command with "max retries per request": the connection's own error says why. */
  private rootOf(error: unknown): unknown {
    const gaveUp = error instanceof Error && error.name === 'MaxRetriesPerRequestError';
    return gaveUp && this.lastConnectionError ? this.lastConnectionError : error;
  }

  /** Logs an outage once, and the recovery, instead of ioredis printing every failed reconnect. */
  private reportOutages(): void {
    let down = false;
    let wasReady = false;
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error;
      if (!down && (wasReady || !this.options.quietUntilReady)) {
        down = true;
        this.options.logger.warn(`Redis connection failed (${error.message}); lock operations fail until it is back.`);
      }
    });
    this.client.on('ready', () => {
      wasReady = true;
      this.lastConnectionError = undefined;
      if (down) {
        down = false;
        this.options.logger.log('Redis connection is back.');
      }
    });
  }
}

function describe({ name, keys }: RedisOperation): string {
  if (keys.length === 0) {
    return name;
  }
  return `${name} lock ${formatKeys(keys)}`;
}

function classify(error: unknown, what: string): Error {
  if (error instanceof LockError) {
    return error;
  }
  if (error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message) && !isAuthFailure(error)) {
    return new LockError(
      `Could not ${what}: Redis refused it (${error.message}). Check the Redis user's permissions (docs/operations.md, "ACL").`,
      500,
      error,
    );
  }
  return new LockStoreUnavailableError(what, error);
}

/**
 * A script's reply as an array (a single value becomes an array of one).
 * @param reply the reply
 */
export function replyArray(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : [reply];
}

/**
 * A reply (number, numeric string, bigint or Buffer) as a number; NaN for anything else.
 * @param value the reply
 */
export function replyNumber(value: unknown): number {
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'bigint' || typeof value === 'string') {
    return Number(value);
  }
  return Buffer.isBuffer(value) ? Number(value.toString('utf8')) : Number.NaN;
}

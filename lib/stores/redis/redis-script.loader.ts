import type { RedisConnectionPort } from './redis-connection.port.js';
import type { LockScript } from './redis-script.js';

/**
 * Puts a store's scripts in Redis's script cache (SCRIPT LOAD) before the first of them is run on a connection, and
 * again after the connection was lost (the server may have restarted empty). Scripts are run by SHA; one that Redis
 * does not know is sent again whole only after Redis said so, behind whatever was sent meanwhile: loading every
 * script together keeps that rare, and a give-back a later attempt of the same token may follow is sent whole at once
 * (Redis can still forget scripts without this connection dropping: SCRIPT FLUSH, a promoted replica, as SCRIPT LOAD
 * is not replicated). A user the ACL refuses SCRIPT LOAD still works (scripts are then sent whole when missing).
 */
export class RedisScriptLoader {
  private loading?: Promise<void>;
  /** The scripts are in the cache, or Redis refused to load them (the user's ACL): scripts are then sent whole when missing. */
  private loaded = false;
  private readonly forget = (): void => {
    this.loading = undefined;
    this.loaded = false;
  };

  /**
   * @param client the store's client
   * @param scripts every script the store runs
   */
  constructor(
    private readonly client: RedisConnectionPort,
    private readonly scripts: readonly LockScript[],
  ) {
    client.on('close', this.forget);
  }

  /**
   * What a script must wait for before it is sent: the loading of every script into the cache of the nodes the client
   * sends scripts to, or nothing once that is done (a script is then sent at once, in order with other commands).
   */
  pending(): Promise<void> | undefined {
    if (this.loaded) {
      return undefined;
    }
    this.loading ??= this.load();
    return this.loading;
  }

  /** Stops watching the client. */
  close(): void {
    this.client.off('close', this.forget);
  }

  private async load(): Promise<void> {
    const nodes = this.client.nodes?.('master') ?? [this.client];
    if (nodes.length === 0) {
      // A cluster that has not found its nodes yet: the next script asks again.
      this.loading = undefined;
      return;
    }
    try {
      await Promise.all(nodes.flatMap((node) => this.scripts.map((script) => node.script('LOAD', script.source))));
      this.loaded = true;
    } catch (error) {
      this.loaded = error instanceof Error && error.name === 'ReplyError' && /NOPERM|unknown command/i.test(error.message);
      // Not loaded for want of a connection: the next script asks again; meanwhile scripts go whole when missing.
      this.loading = undefined;
    }
  }
}

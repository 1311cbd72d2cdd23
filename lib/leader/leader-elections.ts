import { InvalidLockOptionsError, LockError } from '../errors/index.js';
import type { LockLogger } from '../lock.logger.js';
import { LeaderElection, type LeaderElectionContext } from './leader-election.js';
import type { LeaderOptions, Leadership } from './leadership.interface.js';
import { leaderKey, resolveLeaderOptions } from './leader-options.resolver.js';

/**
 * The campaigns of one app, one per name: `elect()` starts one or returns the one running, `@LeaderOnly` methods
 * ask whether this instance leads, and the app's shutdown resigns them all before its locks are released.
 */
export class LeaderElections {
  private readonly campaigns = new Map<string, LeaderElection>();
  private closing?: Promise<void>;

  /** @param context the app's LockService, as elections need it */
  constructor(private readonly context: Omit<LeaderElectionContext, 'stopped'> & { readonly logger: LockLogger }) {}

  /**
   * Starts campaigning for `name`, or returns this app's running campaign for it.
   * @param name the name
   * @param options ttl, retry, signal
   * @throws InvalidLockOptionsError for a bad name or option, or options that differ from the running campaign's
   * @throws LockError once the app is shutting down
   */
  elect(name: string, options?: LeaderOptions): Leadership {
    const where = `elect(${JSON.stringify(name) ?? String(name)})`;
    const key = leaderKey(name, where);
    const resolved = resolveLeaderOptions(options, where);
    if (this.closing) {
      throw new LockError(`${where}: the application is shutting down; no campaign starts now.`);
    }
    const running = this.get(name);
    if (running instanceof LeaderElection) {
      const same = resolved.ttl === running.options.ttl && resolved.retry === running.options.retry && resolved.signal === undefined;
      if (options !== undefined && !same) {
        throw new InvalidLockOptionsError(
          `${where}: this app campaigns for "${name}" already (ttl ${running.options.ttl}, retry ${running.options.retry}); ` +
            `call elect("${name}") without options to get that campaign, or resign() it first to start one with other options or a signal.`,
        );
      }
      return running;
    }
    const election = new LeaderElection(name, key, resolved, {
      ...this.context,
      stopped: (stopped) => {
        if (this.campaigns.get(name) === stopped) {
          this.campaigns.delete(name);
        }
      },
    });
    this.campaigns.set(name, election);
    election.start();
    return election;
  }

  /**
   * This app's running campaign for `name`, if any.
   * @param name the name
   */
  get(name: string): Leadership | undefined {
    const election = this.campaigns.get(name);
    return election && !election.stopped ? election : undefined;
  }

  /** The names this app campaigns for, and those it leads now. */
  names(): { campaigning: string[]; leading: string[] } {
    const running = [...this.campaigns.values()].filter((election) => !election.stopped);
    return {
      campaigning: running.map((election) => election.name),
      leading: running.filter((election) => election.isLeader).map((election) => election.name),
    };
  }

  /**
   * Tells whether a `@LeaderOnly` method may run now: this instance leads `name`. Otherwise logs why not, at debug.
   * @param name the election
   * @param where the method, for the log line
   */
  mayRun(name: string, where: string): boolean {
    const leadership = this.get(name);
    if (leadership?.isLeader) {
      return true;
    }
    const leader = leadership?.leader;
    const state = !leadership ? 'this app does not campaign for it' : leader ? `${leader} leads it` : 'nobody is known to lead it now';
    this.context.logger.debug(`Skipped ${where}: this instance does not lead "${name}" (${state}).`);
    return false;
  }

  /** Resigns every campaign (the app is shutting down) and refuses new ones. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.campaigns.values()].map((election) => election.resign())).then(() => undefined);
    return this.closing;
  }
}

import { LEADER_ONLY_METADATA } from '../lock.constants.js';
import { decoratedMethod, replaceMethod } from '../locked/decorated-method.util.js';
import type { LeaderOptions } from './leadership.interface.js';
import { leaderKey, resolveLeaderOptions } from './leader-options.resolver.js';
import { createLeaderOnlyMethod, type LeaderOnlyMethodSpec } from './leader-only-method.runner.js';

/** Options of `@LeaderOnly`: those of `elect()` but `signal` (the app's shutdown ends the campaign). */
export type LeaderOnlyOptions = Omit<LeaderOptions, 'signal'>;

/**
 * The decorator `@LeaderOnly` returns. It fits methods whose result is a Promise or nothing: the call always
 * becomes asynchronous, and resolves to `undefined` on an instance that does not lead.
 */
export type LeaderOnlyMethodDecorator = <P extends unknown[], R extends PromiseLike<unknown> | void>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<(...args: P) => R>,
) => void;

const LEADER_ONLY_OPTION_NAMES: ReadonlySet<string> = new Set(['ttl', 'retry']);

/**
 * Runs the method only while this instance leads `name`; on any other instance the call resolves to `undefined`
 * without running it (a debug line says who leads). For the jobs one instance runs at a time until it stops: a
 * `@Cron` / `@Interval` job, an outbox poller, a consumer. The app campaigns for every name its `@LeaderOnly`
 * methods use from bootstrap, and resigns on `app.close()`, so another instance takes over at once. Keeps all
 * other decorators' metadata.
 *
 * ```ts
 * @Interval(1_000)
 * @LeaderOnly('outbox')
 * async publishOutbox() {}
 * ```
 * To pass the term to fenced writes, or to stop work when the term ends, get the campaign with
 * `lockService.elect('outbox')` (it returns the running one) and read `term` and `signal`.
 * @param name the election's name (its lock key is `leader:<name>`)
 * @param options `ttl` and `retry` of the campaign (see `elect()`); methods naming one election must agree
 * @throws InvalidLockOptionsError when the class is decorated, for a bad name or option
 */
export function LeaderOnly(name: string, options?: LeaderOnlyOptions): LeaderOnlyMethodDecorator {
  return (target, propertyKey, descriptor) => {
    const original = decoratedMethod('@LeaderOnly', target, propertyKey, descriptor);
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}.${String(propertyKey)}`;
    leaderKey(name, `@LeaderOnly on ${where}`);
    resolveLeaderOptions(options, `@LeaderOnly on ${where}`, LEADER_ONLY_OPTION_NAMES);
    const spec: LeaderOnlyMethodSpec = { where, className, name, options };
    replaceMethod(descriptor, original, createLeaderOnlyMethod(original, spec), [LEADER_ONLY_METADATA, spec]);
  };
}

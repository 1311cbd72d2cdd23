import type { AnyMethod } from '../locked/decorated-method.util.js';
import { lockServiceOf } from '../locked/lock-service.binding.js';
import type { LeaderOnlyOptions } from './leader-only.decorator.js';

/** What a `@LeaderOnly` method records, fixed when the class is decorated. */
export interface LeaderOnlyMethodSpec {
  readonly where: string;
  readonly className: string;
  /** The election's name. */
  readonly name: string;
  /** The campaign's options, if the decorator gave any. */
  readonly options?: LeaderOnlyOptions;
}

/**
 * Builds the function that replaces a `@LeaderOnly` method: it runs the method if this instance leads the name at
 * the call, and otherwise resolves to `undefined` (logged at debug).
 * @param original the method as declared
 * @param spec the decoration
 */
export function createLeaderOnlyMethod(original: AnyMethod, spec: LeaderOnlyMethodSpec): AnyMethod {
  return async function leaderOnly(this: unknown, ...args: unknown[]): Promise<unknown> {
    const service = lockServiceOf(this, spec, '@LeaderOnly');
    return service.elections.mayRun(spec.name, spec.where) ? original.apply(this, args) : undefined;
  };
}

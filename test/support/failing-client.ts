import type { Cluster, Redis } from 'ioredis';

/**
 * A real client whose script calls matching `fails` reject as a dropped connection would, while everything else
 * goes to Redis: fault injection for one step of a multi-step operation that no server-side fault can single out.
 * @param client the client to wrap
 * @param fails true for the script (its SHA for EVALSHA, its source for EVAL) that must fail
 */
export function failingScripts<C extends Redis | Cluster>(client: C, fails: (shaOrSource: string) => boolean): C {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if ((property === 'evalsha' || property === 'eval') && typeof value === 'function') {
        return (script: string, ...rest: unknown[]) =>
          fails(script)
            ? Promise.reject(new Error('Connection is closed.'))
            : (value as (...args: unknown[]) => unknown).call(target, script, ...rest);
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

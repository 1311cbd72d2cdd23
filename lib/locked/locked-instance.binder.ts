import type { LockService } from '../core/lock.service.js';
import type { DiscoveredWrapper } from './instance-metadata.scanner.js';
import { bindLockService } from './lock-service.binding.js';

/** Nest's holder of one instance per request context (or per inquirer, for a transient provider). */
interface InstanceHost {
  instance: unknown;
}

/** The parts of Nest's `InstanceWrapper` through which instances of non-singleton scopes come to be. */
interface ScopedWrapper {
  setInstanceByContextId?(contextId: unknown, host: InstanceHost, inquirerId?: unknown): void;
  setInstanceByInquirerId?(contextId: unknown, inquirerId: unknown, host: InstanceHost): void;
  getStaticTransientInstances?(): InstanceHost[];
}

/**
 * Binds every instance of a provider or controller with `@Locked` methods to the LockService of the app that
 * created it: the singleton now, and instances of request-scoped and transient classes as Nest creates them, so
 * that two apps in one process (tests, workers) never lock through each other's service.
 * @param wrapper Nest's wrapper of the class
 * @param service this app's LockService
 */
export function bindInstances(wrapper: DiscoveredWrapper, service: LockService): void {
  const scoped = wrapper as unknown as ScopedWrapper;
  bindObject(wrapper.instance, service);
  if (wrapper.isDependencyTreeStatic() && !wrapper.isTransient) {
    return;
  }
  if (typeof scoped.setInstanceByContextId !== 'function' || typeof scoped.setInstanceByInquirerId !== 'function') {
    // A Nest without these hooks: instances then reach the service through their prototype (last app wins).
    bindObject(Object.getPrototypeOf(wrapper.instance), service);
    return;
  }
  for (const host of scoped.getStaticTransientInstances?.() ?? []) {
    bindObject(host.instance, service);
  }
  const byContext = scoped.setInstanceByContextId.bind(wrapper);
  const byInquirer = scoped.setInstanceByInquirerId.bind(wrapper);
  scoped.setInstanceByContextId = (contextId, host, inquirerId) => byContext(contextId, bindOnCreation(host, service), inquirerId);
  scoped.setInstanceByInquirerId = (contextId, inquirerId, host) => byInquirer(contextId, inquirerId, bindOnCreation(host, service));
}

/** Binds whatever instance Nest puts into `host`, now or later (it first holds a placeholder, then the instance). */
function bindOnCreation(host: InstanceHost, service: LockService): InstanceHost {
  let current = host.instance;
  bindObject(current, service);
  Object.defineProperty(host, 'instance', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (instance: unknown) => {
      current = instance;
      bindObject(instance, service);
    },
  });
  return host;
}

function bindObject(target: unknown, service: LockService): void {
  if (typeof target === 'object' && target !== null) {
    bindLockService(target, service);
  }
}

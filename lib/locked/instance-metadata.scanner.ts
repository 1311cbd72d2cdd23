import type { DiscoveryService, MetadataScanner } from '@nestjs/core';

/** Nest's wrapper of a provider or controller, as the DiscoveryService lists it. */
export type DiscoveredWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/**
 * The providers and controllers of the app that have an instance (an object), with their wrappers.
 * @param discovery Nest's DiscoveryService
 */
export function discoveredInstances(discovery: DiscoveryService): Array<{ wrapper: DiscoveredWrapper; instance: object }> {
  return [...discovery.getProviders(), ...discovery.getControllers()].flatMap((wrapper) => {
    const instance: unknown = wrapper.instance;
    return typeof instance === 'object' && instance !== null ? [{ wrapper, instance }] : [];
  });
}

/**
 * What a decorator recorded under `key` on the methods of an instance's class (one entry per decorated method).
 * @param scanner Nest's MetadataScanner
 * @param instance the instance
 * @param key the decorator's metadata key
 */
export function methodMetadata<T>(scanner: MetadataScanner, instance: object, key: string): T[] {
  const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
  return scanner.getAllMethodNames(prototype).flatMap((name) => {
    const method = prototype[name];
    return typeof method === 'function' && Reflect.hasOwnMetadata(key, method) ? [Reflect.getOwnMetadata(key, method) as T] : [];
  });
}

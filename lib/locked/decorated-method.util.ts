import { InvalidLockOptionsError } from '../errors/index.js';
import { describe } from '../utils/describe.util.js';
import { copyMethodMetadata } from './copy-method-metadata.util.js';

/** A method as a decorator receives it. */
export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The method a method decorator was put on, or an InvalidLockOptionsError naming what it was put on instead
 * (decorators are also applied from plain JavaScript, where no type stops a misplaced one).
 * @param decorator the decorator's name for messages, e.g. `@Locked`
 */
export function decoratedMethod(
  decorator: string,
  target: object,
  propertyKey: string | symbol | undefined,
  descriptor: PropertyDescriptor | undefined,
): AnyMethod {
  if (propertyKey === undefined && typeof target === 'function') {
    throw new InvalidLockOptionsError(
      `${decorator} on class ${target.name}: it decorates methods only, not a class. Put it on each method it is for.`,
    );
  }
  const where = `${typeof target === 'function' ? target.name : target.constructor.name}.${String(propertyKey)}`;
  if (descriptor === undefined) {
    throw new InvalidLockOptionsError(`${decorator} on ${where}: it decorates methods only, not a property.`);
  }
  if (descriptor.get !== undefined || descriptor.set !== undefined) {
    throw new InvalidLockOptionsError(`${decorator} on ${where}: it decorates methods only, not a getter or setter.`);
  }
  if (typeof descriptor.value !== 'function') {
    throw new InvalidLockOptionsError(`${decorator} on ${where}: it decorates methods only, got ${describe(descriptor.value)}.`);
  }
  return descriptor.value as AnyMethod;
}

/**
 * Puts `wrapped` in place of `original`, with every metadata entry of `original` (routes, `@Cron`, other
 * decorators'), its name and length, and the decorator's own entry.
 * @param descriptor the method's descriptor
 * @param original the method as it was
 * @param wrapped its replacement
 * @param metadata the decorator's metadata key and value
 */
export function replaceMethod(
  descriptor: PropertyDescriptor,
  original: AnyMethod,
  wrapped: AnyMethod,
  metadata: [key: string, value: unknown],
): void {
  copyMethodMetadata(original, wrapped);
  Object.defineProperty(wrapped, 'name', { value: original.name });
  Object.defineProperty(wrapped, 'length', { value: original.length });
  Reflect.defineMetadata(metadata[0], metadata[1], wrapped);
  descriptor.value = wrapped;
}

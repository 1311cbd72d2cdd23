import { Observable } from 'rxjs';

/**
 * Whether a method declares an Observable result, as TypeScript records it (`design:returntype`, with
 * `emitDecoratorMetadata`).
 * @param target the class prototype (or the class, for a static method)
 * @param propertyKey the method's name
 */
export function declaresObservable(target: object, propertyKey: string | symbol): boolean {
  const returnType: unknown = Reflect.getMetadata('design:returntype', target, propertyKey);
  return typeof returnType === 'function' && (returnType === Observable || returnType.prototype instanceof Observable);
}

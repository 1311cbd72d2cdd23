/**
 * Copies every metadata entry Nest and other libraries stored on a method function (routes, `SetMetadata`,
 * `@Cron`, `@MessagePattern`, guards...) to its wrapper, so that wrapping loses none of it.
 * @param from the original method
 * @param to the wrapper that replaces it
 */
export function copyMethodMetadata(from: object, to: object): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
}

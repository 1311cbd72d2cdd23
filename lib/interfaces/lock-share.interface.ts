/**
 * How a hold shares its key with other holders; a store gets none for an exclusive hold (a mutex, or a writer of a
 * read-write lock). Every caller of one key must share it the same way: read locks with writers, or permits of a
 * semaphore of one `limit`.
 */
export type LockShare =
  /** A read lock: any number of readers at once, never together with a writer. */
  | { readonly mode: 'read' }
  /** A permit of a counting semaphore: at most `limit` holders at once. */
  | { readonly mode: 'permit'; readonly limit: number };

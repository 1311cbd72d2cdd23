import { InvalidLockOptionsError } from '../errors/index.js';
import type { LockShare } from '../interfaces/index.js';

/**
 * A share as stores write it beside a key: `r` for read locks, `s<limit>` for a semaphore's permits; `x` is an
 * exclusive holder (a mutex or a writer).
 * @param share the share, or undefined for an exclusive hold
 */
export function shareTag(share: LockShare | undefined): string {
  if (!share) {
    return 'x';
  }
  return share.mode === 'read' ? 'r' : `s${share.limit}`;
}

/**
 * How many holders a share admits at once.
 * @param tag a tag of {@link shareTag}
 */
export function shareCapacity(tag: string): number {
  if (tag === 'r') {
    return Number.POSITIVE_INFINITY;
  }
  return tag.startsWith('s') ? Number(tag.slice(1)) : 1;
}

/** A tag in words, for errors: "a semaphore of limit 3". */
function describeTag(tag: string): string {
  if (tag === 'r') {
    return 'read locks';
  }
  return tag.startsWith('s') ? `a semaphore of limit ${tag.slice(1)}` : 'an exclusive lock (a mutex or a writer: limit 1)';
}

/**
 * The error for a caller whose share of a key disagrees with the way its holders share it (two deployments
 * configured with different limits, or a semaphore key taken as a mutex).
 * @param key the key
 * @param heldTag how the holders share it
 * @param asked the caller's share
 */
export function conflictingShareError(key: string, heldTag: string, asked: LockShare | undefined): InvalidLockOptionsError {
  return new InvalidLockOptionsError(
    `Lock key ${JSON.stringify(key)} is held as ${describeTag(heldTag)}, but this call asked for ${describeTag(shareTag(asked))}. ` +
      `Every caller of a key must use the same limit and mode: make the callers' options agree.`,
  );
}

/**
 * The `mode` and `limit` a share stands for, as `Lock` and the events show them.
 * @param share the share, or undefined for an exclusive hold
 */
export function shareFields(share: LockShare | undefined): { mode: 'read' | 'write'; limit: number } {
  return { mode: share?.mode === 'read' ? 'read' : 'write', limit: share?.mode === 'permit' ? share.limit : 1 };
}

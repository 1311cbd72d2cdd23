// The referee of leader elections: it judges the terms that instances reported, each stamped with the clock of the
// one host they all run on at the moment `changes` said so (an instance says its term ended before it gives the lock
// back, and a new leader says it leads after it got the lock, so a clean hand-over never looks like an overlap).

/** One term, as the instance that led it reported it. */
export interface TermRecord {
  /** The term (its fencing token). */
  term: number;
  /** Who led it (a worker id or a pid). */
  holder: string;
  /** Epoch ms when the instance said it leads. */
  electedAt: number;
  /** Epoch ms when it said the term ended; undefined if it never did (killed, or still leading at the end). */
  endedAt?: number;
  reason?: 'resigned' | 'lost';
}

/**
 * What must hold over all terms of one name: every term number is unique; two terms overlap in time only if the
 * older one (the lower term) was lost (its lease ran out, the instance found out later) or its instance was killed;
 * a lower term never starts after a higher one unless it was lost.
 * @param records the terms, in any order
 * @param killed whether a holder was killed (it could not report the end of its term)
 * @returns the violations, in words
 */
export function judgeTerms(records: readonly TermRecord[], killed: (holder: string) => boolean): string[] {
  const violations: string[] = [];
  const terms = [...records].sort((a, b) => a.term - b.term);
  const excused = (older: TermRecord): boolean => older.reason === 'lost' || (older.endedAt === undefined && killed(older.holder));
  for (let i = 1; i < terms.length; i += 1) {
    if (terms[i].term === terms[i - 1].term) {
      violations.push(`term ${terms[i].term} was led twice: by ${terms[i - 1].holder} and ${terms[i].holder}`);
    }
  }
  for (const [i, older] of terms.entries()) {
    for (const newer of terms.slice(i + 1)) {
      if (excused(older)) {
        continue;
      }
      if (newer.electedAt < older.electedAt) {
        violations.push(`term ${newer.term} (${newer.holder}) began before the lower term ${older.term} (${older.holder})`);
      } else if (older.endedAt === undefined || newer.electedAt < older.endedAt) {
        violations.push(
          `two leaders at once: ${older.holder} in term ${older.term} (${older.reason ?? 'not ended'}) and ${newer.holder} in term ${newer.term}, ` +
            `from ${newer.electedAt} to ${older.endedAt ?? 'the end'}`,
        );
      }
    }
  }
  return violations;
}

// The summary: each scenario's number for every kind of nest-lock caller, the best peer's, their ratio, and the
// target (issue 23), met or missed.
import { isPeer, NEST_LOCK_KINDS, type NestLockKind } from './contenders';
import type { Section } from './report';
import type { Row } from './scenarios';

/** Whether a bigger or a smaller value is better. */
type Better = 'higher' | 'lower';

interface Measure {
  /** The section, by the start of its title. */
  section: string;
  /** Names the row of the summary. */
  what: string;
  column: string;
  better: Better;
}

/** A target: a bound on the ratio of ours to the best peer's (or to the ideal's), for some callers. */
interface Target {
  text: string;
  against: 'best peer' | 'ideal';
  /** ours / theirs must be at least (higher is better) or at most (lower is better) this. */
  bound: number;
  /** The callers it applies to. @default every caller */
  callers?: (kind: NestLockKind) => boolean;
}

const WATCHDOG_OFF = (kind: NestLockKind): boolean => kind.endsWith('autoExtend:false');
const WATCHDOG_ON = (kind: NestLockKind): boolean => !WATCHDOG_OFF(kind);

const TARGETS: Array<Measure & { targets: Target[] }> = [
  {
    section: '1.',
    what: 'uncontended, us per acquire + release',
    column: 'us/cycle (median)',
    better: 'lower',
    targets: [{ text: 'at most 1.05x ideal', against: 'ideal', bound: 1.05 }],
  },
  {
    section: '1.',
    what: 'uncontended, Redis CPU us per cycle',
    column: 'Redis CPU us/cycle',
    better: 'lower',
    targets: [{ text: 'at most 1.5x ideal', against: 'ideal', bound: 1.5 }],
  },
  {
    section: '2.',
    what: 'distinct keys, cycles/s',
    column: 'cycles/s (median)',
    better: 'higher',
    targets: [
      { text: 'at least the best peer', against: 'best peer', bound: 1 },
      { text: 'at least 0.9x ideal', against: 'ideal', bound: 0.9 },
    ],
  },
  {
    section: '3.',
    what: 'hot key, CS/s',
    column: 'CS/s',
    better: 'higher',
    targets: [{ text: 'at least the best peer', against: 'best peer', bound: 1 }],
  },
  {
    section: '3.',
    what: 'hot key, wait p99 ms',
    column: 'wait p99 ms',
    better: 'lower',
    targets: [{ text: "at most 0.2x the best peer's", against: 'best peer', bound: 0.2, callers: WATCHDOG_ON }],
  },
  {
    section: '8.',
    what: 'busy service, CS/s',
    column: 'CS/s',
    better: 'higher',
    targets: [{ text: 'at least 2x the best peer', against: 'best peer', bound: 2 }],
  },
  {
    section: '9.',
    what: 'hot semaphore, CS/s',
    column: 'CS/s',
    better: 'higher',
    targets: [{ text: 'at least the peer', against: 'best peer', bound: 1 }],
  },
  { section: '9.', what: 'hot semaphore, wait p99 ms', column: 'wait p99 ms', better: 'lower', targets: [] },
  {
    section: '4.',
    what: 'idle waiters, commands/s once subscribed',
    column: 'commands/s once subscribed',
    better: 'lower',
    targets: [{ text: '0', against: 'best peer', bound: 0 }],
  },
];

/**
 * The summary table.
 * @param sections the scenarios that ran (a target whose scenario did not run is left out)
 */
export function summary(sections: Section[]): Row[] {
  const rows: Row[] = [];
  for (const measure of TARGETS) {
    const section = sections.find((one) => one.title.startsWith(measure.section));
    if (!section) {
      continue;
    }
    const value = (name: string): number | undefined => {
      const row = section.rows.find((one) => one.contender === name);
      return row === undefined || row[measure.column] === '' ? undefined : Number(row[measure.column]);
    };
    const peers = section.rows.filter((row) => isPeer(String(row.contender)));
    const pick = measure.better === 'higher' ? Math.max : Math.min;
    const bestValue = pick(...peers.map((row) => Number(row[measure.column])));
    const best = peers.find((row) => Number(row[measure.column]) === bestValue);
    const ideal = value('ideal');
    for (const kind of NEST_LOCK_KINDS) {
      const ours = value(kind);
      if (ours === undefined) {
        continue;
      }
      const targets = measure.targets.filter((target) => target.callers?.(kind) ?? true);
      const ratios = [
        ...(best && bestValue !== 0 ? [`${ratio(ours / bestValue)} best peer`] : []),
        ...(ideal ? [`${ratio(ours / ideal)} ideal`] : []),
      ];
      rows.push({
        scenario: measure.what,
        caller: kind,
        'nest-lock': ours,
        'best peer': best ? `${best.contender} ${bestValue}` : '',
        ratio: ratios.join(', '),
        target: targets.length === 0 ? 'reported' : targets.map((target) => target.text).join(', '),
        met:
          targets.length === 0
            ? ''
            : targets.every((target) => meets(target, measure.better, ours, target.against === 'ideal' ? ideal : bestValue))
              ? 'yes'
              : 'no',
      });
    }
  }
  rows.push(...safety(sections));
  return rows;
}

function meets(target: Target, better: Better, ours: number, theirs: number | undefined): boolean {
  if (target.bound === 0) {
    return ours === 0;
  }
  if (theirs === undefined) {
    return false;
  }
  return better === 'higher' ? ours >= target.bound * theirs : ours <= target.bound * theirs;
}

/** Every contention run of every nest-lock caller: lost updates, overlapping sections, holders over a limit. */
function safety(sections: Section[]): Row[] {
  const columns = ['lost updates', 'overlapping CS', 'over limit / torn reads'];
  const ours = sections
    .flatMap((section) => section.rows)
    .filter((row) => String(row.contender).startsWith('nest-lock') && columns.some((column) => column in row));
  if (ours.length === 0) {
    return [];
  }
  const broken = ours.reduce((sum, row) => sum + columns.reduce((inner, column) => inner + Number(row[column] ?? 0), 0), 0);
  return [
    {
      scenario: 'every contention run: lost updates + overlapping CS + over limit + torn reads',
      caller: 'every caller',
      'nest-lock': broken,
      'best peer': '',
      ratio: '',
      target: '0',
      met: broken === 0 ? 'yes' : 'no',
    },
  ];
}

function ratio(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** The values each field of a cron expression allows. */
interface CronFields {
  second: ReadonlySet<number>;
  minute: ReadonlySet<number>;
  hour: ReadonlySet<number>;
  dayOfMonth: ReadonlySet<number>;
  month: ReadonlySet<number>;
  dayOfWeek: ReadonlySet<number>;
  /** Day of month and day of week are both restricted: a day matches if either does (cron's rule). */
  eitherDay: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** How many coming ticks are compared to find the shortest gap. */
const TICKS_COMPARED = 8;
/** A schedule whose next tick is not found within this many steps never fires (e.g. 30 February). */
const MAX_STEPS = 50_000;

/**
 * The shortest time between two consecutive ticks of a cron expression (`* * * * * *` with seconds, or the
 * 5-field form), over its next few ticks, in ms; undefined if it is not a cron expression this parser reads
 * (numbers, `*`, `?`, ranges, steps, lists, month and day names) or never fires.
 * @param expression the cron expression, as given to `@Cron`
 * @param from where to start looking, epoch ms @default now
 */
export function cronInterval(expression: string, from = Date.now()): number | undefined {
  const fields = parseCron(expression);
  if (!fields) {
    return undefined;
  }
  let shortest = Number.POSITIVE_INFINITY;
  let previous = nextTick(fields, from);
  for (let i = 0; i < TICKS_COMPARED && previous !== undefined; i += 1) {
    const next = nextTick(fields, previous);
    if (next !== undefined) {
      shortest = Math.min(shortest, next - previous);
    }
    previous = next;
  }
  return Number.isFinite(shortest) ? shortest : undefined;
}

function parseCron(expression: string): CronFields | undefined {
  const parts = expression.trim().split(/\s+/);
  const withSeconds = parts.length === 6 ? parts : parts.length === 5 ? ['0', ...parts] : undefined;
  if (!withSeconds) {
    return undefined;
  }
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = withSeconds;
  const fields = [
    parseField(second, 0, 59),
    parseField(minute, 0, 59),
    parseField(hour, 0, 23),
    parseField(dayOfMonth, 1, 31),
    parseField(month, 1, 12, MONTHS, 1),
    parseField(dayOfWeek, 0, 7, DAYS, 0),
  ];
  if (fields.some((field) => field === undefined)) {
    return undefined;
  }
  const [s, m, h, dom, mon, dow] = fields as Array<Set<number>>;
  if (dow.delete(7)) {
    dow.add(0);
  }
  return {
    second: s,
    minute: m,
    hour: h,
    dayOfMonth: dom,
    month: mon,
    dayOfWeek: dow,
    eitherDay: !isAny(dayOfMonth) && !isAny(dayOfWeek),
  };
}

function isAny(field: string): boolean {
  return field === '*' || field === '?';
}

function parseField(field: string, min: number, max: number, names: string[] = [], firstName = 0): Set<number> | undefined {
  const values = new Set<number>();
  const value = (text: string): number => {
    const named = names.indexOf(text.toUpperCase());
    return named >= 0 ? named + firstName : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  };
  for (const item of field.split(',')) {
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let [from, to] = [min, max];
    if (!isAny(range)) {
      const [start, end] = range.split('-');
      from = value(start);
      to = end === undefined ? (stepText === undefined ? from : max) : value(end);
    }
    if (!(Number.isInteger(step) && step > 0 && from >= min && to <= max && from <= to)) {
      return undefined;
    }
    for (let v = from; v <= to; v += step) {
      values.add(v);
    }
  }
  return values;
}

/** The first tick strictly after `after` (epoch ms), in UTC. */
function nextTick(fields: CronFields, after: number): number | undefined {
  const date = new Date(Math.floor(after / 1000) * 1000 + 1000);
  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (!fields.month.has(date.getUTCMonth() + 1)) {
      date.setUTCMonth(date.getUTCMonth() + 1, 1);
      date.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(fields, date)) {
      date.setUTCDate(date.getUTCDate() + 1);
      date.setUTCHours(0, 0, 0, 0);
    } else if (!fields.hour.has(date.getUTCHours())) {
      date.setUTCHours(date.getUTCHours() + 1, 0, 0, 0);
    } else if (!fields.minute.has(date.getUTCMinutes())) {
      date.setUTCMinutes(date.getUTCMinutes() + 1, 0, 0);
    } else if (!fields.second.has(date.getUTCSeconds())) {
      date.setUTCSeconds(date.getUTCSeconds() + 1, 0);
    } else {
      return date.getTime();
    }
  }
  return undefined;
}

function dayMatches(fields: CronFields, date: Date): boolean {
  const byMonth = fields.dayOfMonth.has(date.getUTCDate());
  const byWeek = fields.dayOfWeek.has(date.getUTCDay());
  return fields.eitherDay ? byMonth || byWeek : byMonth && byWeek;
}

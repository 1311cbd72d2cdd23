import { SCHEDULE_CRON_METADATA, SCHEDULE_INTERVAL_METADATA, SCHEDULED_MIN_HOLD_SHARE } from '../lock.constants.js';
import { cronInterval } from '../utils/cron-interval.util.js';

/**
 * The minimum hold a scheduled method's lock needs so that the instances firing one tick run it once: most of the
 * time between two ticks, read from its `@Cron` expression or `@Interval` period.
 * @param method the method function carrying `@nestjs/schedule` metadata
 * @returns ms, or undefined if the method is not scheduled (or its schedule cannot be read)
 */
export function scheduledMinHold(method: object): number | undefined {
  const interval = scheduleInterval(method);
  return interval === undefined ? undefined : Math.floor(interval * SCHEDULED_MIN_HOLD_SHARE);
}

function scheduleInterval(method: object): number | undefined {
  const cron = Reflect.getMetadata(SCHEDULE_CRON_METADATA, method) as { cronTime?: unknown } | undefined;
  if (typeof cron?.cronTime === 'string') {
    return cronInterval(cron.cronTime);
  }
  const interval = Reflect.getMetadata(SCHEDULE_INTERVAL_METADATA, method) as { timeout?: unknown } | undefined;
  return typeof interval?.timeout === 'number' && interval.timeout > 0 ? interval.timeout : undefined;
}

/**
 * Whether `method` is a `@Cron` or `@Interval` job of `@nestjs/schedule`: nobody awaits its outcome but the scheduler.
 * @param method the method function
 */
export function isScheduled(method: object): boolean {
  return Reflect.hasMetadata(SCHEDULE_CRON_METADATA, method) || Reflect.hasMetadata(SCHEDULE_INTERVAL_METADATA, method);
}

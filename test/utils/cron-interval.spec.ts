import { cronInterval } from '../../lib/utils/cron-interval.util';

const FROM = Date.UTC(2026, 10, 25, 12, 0, 0, 500);

describe('cronInterval', () => {
  it.each([
    ['* * * * * *', 1_000],
    ['*/10 * * * * *', 10_000],
    ['0 * * * * *', 60_000],
    ['*/5 * * * *', 300_000],
    ['0 0 */2 * * *', 2 * 3_600_000],
    ['0 0 9,17 * * *', 8 * 3_600_000],
    ['0 0 0 * * MON-FRI', 24 * 3_600_000],
    ['0 0 0 1 JAN,JUL *', 181 * 24 * 3_600_000],
    ['30 15 10 * * 7', 7 * 24 * 3_600_000],
    ['0 0 12 1 * ?', 28 * 24 * 3_600_000],
  ])('reads %s as %i ms between ticks', (expression, interval) => {
    expect(cronInterval(expression, FROM)).toBe(interval);
  });

  it.each(['', 'every minute', '* * *', '61 * * * * *', '*/0 * * * * *', '0 0 0 30 FEB *'])('gives up on %j', (expression) => {
    expect(cronInterval(expression, FROM)).toBeUndefined();
  });
});

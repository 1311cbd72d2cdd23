import { Cohort, type CohortBounds } from '../../lib/core/acquisition/cohort';

const WIDE: CohortBounds = { passes: 1_000, duration: 60_000, linger: 2 };
const GRANTED_AT = 5_000;

/** A grant of `reserved` fencing tokens from 100 on, made at GRANTED_AT. */
function cohort(reserved = 64): Cohort {
  return new Cohort('k', 'token', 100, reserved, GRANTED_AT, false);
}

describe('Cohort', () => {
  it('gives each pass the next fencing token of the grant’s block: strictly increasing, all above the grant’s own', () => {
    const hold = cohort();
    const tokens = [1, 2, 3, 4, 5].map(() => hold.pass(GRANTED_AT + 1_000).fencingToken);
    expect(tokens).toEqual([101, 102, 103, 104, 105]);
  });

  it('makes a pass that names the hold and the lease end it was given', () => {
    const hold = cohort();
    const pass = hold.pass(GRANTED_AT + 750);
    expect(pass.cohort).toBe(hold);
    expect(pass.leaseEnd).toBe(GRANTED_AT + 750);
  });

  it('may pass on while fewer than `passes` passes were made, and not after', () => {
    const hold = cohort();
    const bounds = { ...WIDE, passes: 3 };
    for (let i = 0; i < 3; i += 1) {
      expect(hold.mayPass(bounds, GRANTED_AT)).toBe(true);
      hold.pass(GRANTED_AT + 1_000);
    }
    expect(hold.mayPass(bounds, GRANTED_AT)).toBe(false);
  });

  it('may pass on only within `duration` ms of the grant', () => {
    const hold = cohort();
    const bounds = { ...WIDE, duration: 25 };
    expect(hold.mayPass(bounds, GRANTED_AT + 24)).toBe(true);
    expect(hold.mayPass(bounds, GRANTED_AT + 25)).toBe(false);
    expect(hold.mayPass(bounds, GRANTED_AT + 1_000)).toBe(false);
  });

  it('stops passing when the fencing block is used up, whatever the bounds: every token stays inside the block', () => {
    const hold = cohort(4);
    const tokens: number[] = [];
    while (hold.mayPass(WIDE, GRANTED_AT)) {
      tokens.push(hold.pass(GRANTED_AT + 1_000).fencingToken);
    }
    // The block is 100..103: the grant has 100, the passes the three after it; the store's next grant is above 103.
    expect(tokens).toEqual([101, 102, 103]);
  });

  it('never passes on a grant of a single fencing token', () => {
    expect(cohort(1).mayPass(WIDE, GRANTED_AT)).toBe(false);
  });

  it('keeps the bounds of each hold apart', () => {
    const bounds = { ...WIDE, passes: 1 };
    const first = cohort();
    const second = new Cohort('k', 'next-token', 164, 64, GRANTED_AT, true);
    first.pass(GRANTED_AT + 1_000);
    expect(first.mayPass(bounds, GRANTED_AT)).toBe(false);
    expect(second.mayPass(bounds, GRANTED_AT)).toBe(true);
    expect(second.pass(GRANTED_AT + 1_000).fencingToken).toBe(165);
  });
});

import { describe, expect, it } from 'vitest';
import { SettleReadSchedule } from '../../lib/sim/simulate';

const ids = (count: number) => Array.from({ length: count }, (_, index) => `order-${index}`);

describe('SettleReadSchedule', () => {
  it('reads no more than its rate in all, the longest-due first', () => {
    const schedule = new SettleReadSchedule(50);
    const open = ids(200);

    const first = schedule.due(open, 0);
    for (const orderId of first) schedule.read(orderId, 0);
    const tenthOfASecondLater = schedule.due(open, 100);

    expect(first).toEqual(open.slice(0, 50));
    expect(tenthOfASecondLater).toEqual(open.slice(50, 55));
  });

  it('refills its budget with time, up to one second of reads', () => {
    const schedule = new SettleReadSchedule(50);
    const open = ids(500);
    schedule.due(open, 0);

    expect(schedule.due(open, 60_000)).toHaveLength(50);
  });

  it('looks at an order again 1 s after reading it, then 1.5 times longer each time, at most 5 s apart', () => {
    const schedule = new SettleReadSchedule(1000);
    const readsAt: number[] = [];
    for (let now = 0; now <= 30_000; now += 50) {
      for (const orderId of schedule.due(['a'], now)) {
        readsAt.push(now);
        schedule.read(orderId, now);
      }
    }

    expect(readsAt.slice(0, 8)).toEqual([0, 1000, 2500, 4750, 8150, 13_150, 18_150, 23_150]);
  });
});

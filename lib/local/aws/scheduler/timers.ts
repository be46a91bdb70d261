import type { StopSignal } from './stop-signal';
import { type StoredSchedule, scheduleState } from './store';

// setTimeout fires at once for delays above 2^31-1 ms; longer waits are armed in steps.
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Fires each enabled schedule at its next invocation time, to the second, and hands the firing on. */
export class ScheduleTimers {
  public constructor(
    private readonly stop: StopSignal,
    /** Schedule name -> local `rate()` interval in seconds. */
    private readonly rateOverrides: ReadonlyMap<string, number>,
    private readonly onFire: (schedule: StoredSchedule, scheduledTime: number) => void,
  ) {}

  /**
   * Arms the timer for the next invocation. FLEXIBLE windows fire at the window's start, as OFF does: AWS may pick
   * any moment in the window, and firing at its start is one such moment that keeps local runs deterministic.
   */
  public arm(schedule: StoredSchedule): void {
    this.disarm(schedule);
    if (this.stop.stopped || scheduleState(schedule) !== 'ENABLED') return;
    const now = Date.now();
    const next = this.nextFireTime(schedule, now);
    if (next === undefined) return;
    schedule.nextFireAt = next;
    schedule.timer = setTimeout(
      () => {
        schedule.timer = undefined;
        if (Date.now() < next) {
          this.arm(schedule);
          return;
        }
        this.fire(schedule, next);
      },
      Math.min(Math.max(next - now, 0), MAX_TIMER_DELAY_MS),
    );
  }

  public disarm(schedule: StoredSchedule): void {
    if (schedule.timer !== undefined) clearTimeout(schedule.timer);
    schedule.timer = undefined;
    schedule.nextFireAt = undefined;
  }

  private nextFireTime(schedule: StoredSchedule, now: number): number | undefined {
    const { expression, request } = schedule;
    if (expression.kind === 'at') {
      // A one-time schedule created for a moment already past fires at once rather than never.
      return schedule.firedAt === expression.at ? undefined : expression.at;
    }
    const intervalMs = (this.rateOverrides.get(schedule.name) ?? expression.seconds) * 1000;
    const startMs = request.StartDate === undefined ? undefined : request.StartDate * 1000;
    let next: number;
    if (startMs !== undefined && startMs > now) {
      next = startMs;
    } else {
      const anchor = startMs ?? schedule.lastModificationDate.getTime();
      next = anchor + (Math.floor((now - anchor) / intervalMs) + 1) * intervalMs;
    }
    if (request.EndDate !== undefined && next > request.EndDate * 1000) return undefined;
    return next;
  }

  private fire(schedule: StoredSchedule, scheduledTime: number): void {
    if (schedule.expression.kind === 'at') {
      schedule.firedAt = scheduledTime;
      schedule.nextFireAt = undefined;
      schedule.completed = true;
    } else {
      this.arm(schedule);
      schedule.completed = schedule.nextFireAt === undefined;
    }
    this.onFire(schedule, scheduledTime);
  }
}

import type { JsonObject } from '../../http';
import { epochSeconds } from '../aws-protocol-server';
import { SchedulerApiError } from './errors';
import type { Expression } from './expressions';
import type { ScheduleRequest } from './requests';

export const ScheduleState = { Enabled: 'ENABLED', Disabled: 'DISABLED' } as const;
export type ScheduleState = (typeof ScheduleState)[keyof typeof ScheduleState];

export const DEFAULT_GROUP = 'default';

export interface StoredSchedule {
  readonly arn: string;
  readonly name: string;
  readonly groupName: string;
  readonly request: ScheduleRequest;
  readonly expression: Expression;
  readonly functionName: string;
  readonly creationDate: Date;
  readonly lastModificationDate: Date;
  /** The `at()` instant already fired, so that an unrelated update does not fire it again. */
  firedAt?: number;
  /** Set once the schedule has nothing left to fire: its `at()` fired, or its `rate()` passed its EndDate. */
  completed: boolean;
  nextFireAt?: number;
  timer?: NodeJS.Timeout;
}

export interface StoredGroup {
  readonly arn: string;
  readonly name: string;
  readonly creationDate: Date;
}

/** The schedules, keyed by group and name, and the schedule groups, the `default` group always among them. */
export class ScheduleStore {
  public readonly schedules = new Map<string, StoredSchedule>();
  public readonly groups = new Map<string, StoredGroup>();

  public constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {
    this.addGroup(DEFAULT_GROUP);
  }

  public schedule(groupName: string, name: string): StoredSchedule {
    const schedule = this.schedules.get(scheduleKey(groupName, name));
    if (schedule === undefined) throw scheduleNotFound(name);
    return schedule;
  }

  public group(name: string): StoredGroup {
    const group = this.groups.get(name);
    if (group === undefined) {
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule group ${name} does not exist.`);
    }
    return group;
  }

  public addGroup(name: string): StoredGroup {
    const group: StoredGroup = {
      arn: `arn:aws:scheduler:${this.region}:${this.accountId}:schedule-group/${name}`,
      name,
      creationDate: new Date(),
    };
    this.groups.set(name, group);
    return group;
  }

  public scheduleArn(groupName: string, name: string): string {
    return `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${groupName}/${name}`;
  }

  /** Removes the schedule if it is still the stored definition: one updated meanwhile lives on. */
  public removeIfCurrent(schedule: StoredSchedule): void {
    const key = scheduleKey(schedule.groupName, schedule.name);
    if (this.schedules.get(key) === schedule) this.schedules.delete(key);
  }
}

export function scheduleKey(groupName: string, name: string): string {
  return `${groupName}/${name}`;
}

export function scheduleNotFound(name: string): SchedulerApiError {
  return new SchedulerApiError('ResourceNotFoundException', `Schedule ${name} does not exist.`);
}

export function scheduleState(schedule: StoredSchedule): ScheduleState {
  return schedule.request.State ?? 'ENABLED';
}

export function describeGroup(group: StoredGroup): JsonObject {
  return {
    Arn: group.arn,
    Name: group.name,
    State: 'ACTIVE',
    CreationDate: epochSeconds(group.creationDate),
    LastModificationDate: epochSeconds(group.creationDate),
  };
}

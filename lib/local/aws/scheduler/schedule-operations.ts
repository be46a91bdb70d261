import type { JsonObject } from '../../http';
import { epochSeconds } from '../aws-protocol-server';
import { SchedulerApiError } from './errors';
import { keyPage, type ScheduleRequest } from './requests';
import { DEFAULT_GROUP, type StoredSchedule, scheduleKey, scheduleNotFound, scheduleState } from './store';
import type { ScheduleTimers } from './timers';
import { type ScheduleRules, validateSchedule } from './validation';

/** What the schedule and group operations work on. */
export interface SchedulerContext extends ScheduleRules {
  readonly timers: ScheduleTimers;
}

export function createSchedule(
  name: string,
  request: ScheduleRequest,
  context: SchedulerContext,
): JsonObject {
  const groupName = request.GroupName ?? DEFAULT_GROUP;
  const key = scheduleKey(groupName, name);
  const existing = context.store.schedules.get(key);
  if (existing !== undefined) {
    // The SDK sends one ClientToken per call and reuses it on retries: a retried create is not a conflict.
    if (request.ClientToken !== undefined && existing.request.ClientToken === request.ClientToken) {
      return { ScheduleArn: existing.arn };
    }
    throw new SchedulerApiError('ConflictException', `Schedule ${name} already exists.`);
  }
  const schedule = validateSchedule(name, groupName, request, new Date(), context);
  context.store.schedules.set(key, schedule);
  context.timers.arm(schedule);
  return { ScheduleArn: schedule.arn };
}

export function updateSchedule(
  name: string,
  request: ScheduleRequest,
  context: SchedulerContext,
): JsonObject {
  const groupName = request.GroupName ?? DEFAULT_GROUP;
  const existing = context.store.schedule(groupName, name);
  // UpdateSchedule replaces the whole definition, as in AWS: omitted fields take their defaults.
  const schedule = validateSchedule(name, groupName, request, existing.creationDate, context);
  if (schedule.expression.kind === 'at' && existing.firedAt === schedule.expression.at) {
    schedule.firedAt = existing.firedAt;
    schedule.completed = true;
  }
  context.timers.disarm(existing);
  context.store.schedules.set(scheduleKey(groupName, name), schedule);
  context.timers.arm(schedule);
  return { ScheduleArn: schedule.arn };
}

export function getSchedule(name: string, groupName: string, context: SchedulerContext): JsonObject {
  const schedule = context.store.schedule(groupName, name);
  const { request } = schedule;
  return {
    Arn: schedule.arn,
    GroupName: schedule.groupName,
    Name: schedule.name,
    ScheduleExpression: request.ScheduleExpression,
    ...(request.StartDate !== undefined && { StartDate: request.StartDate }),
    ...(request.EndDate !== undefined && { EndDate: request.EndDate }),
    ...(request.Description !== undefined && { Description: request.Description }),
    ScheduleExpressionTimezone: request.ScheduleExpressionTimezone ?? 'UTC',
    State: scheduleState(schedule),
    CreationDate: epochSeconds(schedule.creationDate),
    LastModificationDate: epochSeconds(schedule.lastModificationDate),
    ...(request.KmsKeyArn !== undefined && { KmsKeyArn: request.KmsKeyArn }),
    Target: request.Target,
    FlexibleTimeWindow: request.FlexibleTimeWindow,
    ActionAfterCompletion: request.ActionAfterCompletion ?? 'NONE',
  };
}

export function deleteSchedule(name: string, groupName: string, context: SchedulerContext): JsonObject {
  const key = scheduleKey(groupName, name);
  const schedule = context.store.schedules.get(key);
  if (schedule === undefined) throw scheduleNotFound(name);
  context.timers.disarm(schedule);
  context.store.schedules.delete(key);
  return {};
}

export function listSchedules(query: URLSearchParams, context: SchedulerContext): JsonObject {
  const groupName = query.get('ScheduleGroup');
  const prefix = query.get('NamePrefix');
  const state = query.get('State');
  const keyOf = (schedule: StoredSchedule) => scheduleKey(schedule.groupName, schedule.name);
  const sorted = [...context.store.schedules.values()]
    .filter(
      (schedule) =>
        (groupName === null || schedule.groupName === groupName) &&
        (prefix === null || schedule.name.startsWith(prefix)) &&
        (state === null || scheduleState(schedule) === state),
    )
    .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const { items, nextToken } = keyPage(sorted, keyOf, query);
  return {
    Schedules: items.map((schedule) => ({
      Arn: schedule.arn,
      Name: schedule.name,
      GroupName: schedule.groupName,
      State: scheduleState(schedule),
      CreationDate: epochSeconds(schedule.creationDate),
      LastModificationDate: epochSeconds(schedule.lastModificationDate),
      Target: { Arn: schedule.request.Target.Arn },
    })),
    ...(nextToken !== undefined && { NextToken: nextToken }),
  };
}

import { SCHEDULER_NAME } from '../../../scheduler-api';
import type { JsonObject } from '../../http';
import { invalid, SchedulerApiError } from './errors';
import { keyPage } from './requests';
import type { SchedulerContext } from './schedule-operations';
import { DEFAULT_GROUP, describeGroup } from './store';

export function createScheduleGroup(name: string, context: SchedulerContext): JsonObject {
  if (!SCHEDULER_NAME.test(name)) throw invalid(`Invalid schedule group name: ${name}`);
  if (context.store.groups.has(name)) {
    throw new SchedulerApiError('ConflictException', `Schedule group ${name} already exists.`);
  }
  return { ScheduleGroupArn: context.store.addGroup(name).arn };
}

export function getScheduleGroup(name: string, context: SchedulerContext): JsonObject {
  return describeGroup(context.store.group(name));
}

export function listScheduleGroups(query: URLSearchParams, context: SchedulerContext): JsonObject {
  const prefix = query.get('NamePrefix');
  const sorted = [...context.store.groups.values()]
    .filter((group) => prefix === null || group.name.startsWith(prefix))
    .sort((a, b) => a.name.localeCompare(b.name));
  const { items, nextToken } = keyPage(sorted, (group) => group.name, query);
  return {
    ScheduleGroups: items.map(describeGroup),
    ...(nextToken !== undefined && { NextToken: nextToken }),
  };
}

/** Deleting a group deletes its schedules, as in AWS. */
export function deleteScheduleGroup(name: string, context: SchedulerContext): JsonObject {
  if (name === DEFAULT_GROUP) throw invalid('The default schedule group cannot be deleted.');
  context.store.group(name);
  for (const [key, schedule] of context.store.schedules) {
    if (schedule.groupName === name) {
      context.timers.disarm(schedule);
      context.store.schedules.delete(key);
    }
  }
  context.store.groups.delete(name);
  return {};
}

import type { JsonObject } from '../../http';
import { SchedulerApiError } from './errors';
import {
  createScheduleGroup,
  deleteScheduleGroup,
  getScheduleGroup,
  listScheduleGroups,
} from './group-operations';
import { groupShape, parse, scheduleShape } from './requests';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  type SchedulerContext,
  updateSchedule,
} from './schedule-operations';
import { DEFAULT_GROUP } from './store';

type CollectionRoute = (query: URLSearchParams, context: SchedulerContext) => JsonObject;
type ItemRoute = (
  name: string,
  query: URLSearchParams,
  body: unknown,
  context: SchedulerContext,
) => JsonObject;

/** `METHOD collection` -> the operation on the collection itself, e.g. `GET /schedules`. */
const COLLECTION_ROUTES: ReadonlyMap<string, CollectionRoute> = new Map([
  ['GET schedules', listSchedules],
  ['GET schedule-groups', listScheduleGroups],
]);

/** `METHOD collection` -> the operation on one named member, e.g. `POST /schedules/<name>`. */
const ITEM_ROUTES: ReadonlyMap<string, ItemRoute> = new Map<string, ItemRoute>([
  [
    'POST schedules',
    (name, _query, body, context) => createSchedule(name, parse(scheduleShape, body), context),
  ],
  ['GET schedules', (name, query, _body, context) => getSchedule(name, groupOf(query), context)],
  [
    'PUT schedules',
    (name, _query, body, context) => updateSchedule(name, parse(scheduleShape, body), context),
  ],
  ['DELETE schedules', (name, query, _body, context) => deleteSchedule(name, groupOf(query), context)],
  [
    'POST schedule-groups',
    (name, _query, body, context) => {
      parse(groupShape, body);
      return createScheduleGroup(name, context);
    },
  ],
  ['GET schedule-groups', (name, _query, _body, context) => getScheduleGroup(name, context)],
  ['DELETE schedule-groups', (name, _query, _body, context) => deleteScheduleGroup(name, context)],
]);

export function route(
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
  context: SchedulerContext,
): JsonObject {
  const segments = path
    .split('/')
    .filter((segment) => segment.length > 0)
    .map(decodeURIComponent);
  const [collection, name, ...rest] = segments;
  if (rest.length === 0) {
    const key = `${method} ${collection}`;
    if (name === undefined) {
      const list = COLLECTION_ROUTES.get(key);
      if (list !== undefined) return list(query, context);
    } else {
      const handle = ITEM_ROUTES.get(key);
      if (handle !== undefined) return handle(name, query, body, context);
    }
  }
  throw new SchedulerApiError(
    'UnknownOperationException',
    `The local Scheduler endpoint does not support ${method} ${path}`,
  );
}

function groupOf(query: URLSearchParams): string {
  return query.get('groupName') ?? DEFAULT_GROUP;
}

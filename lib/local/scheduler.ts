import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { AT_EXPRESSION, RATE_EXPRESSION, SCHEDULER_DEAD_LETTER_ARN, SCHEDULER_NAME } from '../scheduler-api';
import {
  type JsonObject,
  parseJsonBody,
  readBody,
  sendJson,
  startLoopbackServer,
  validateInput,
} from './aws-protocol-server';
import { FunctionInvocationError, type FunctionInvoker } from './invoker';

/**
 * A local stand-in for the EventBridge Scheduler API subset the system uses. It speaks the REST-JSON protocol of
 * `@aws-sdk/client-scheduler`, so handlers reach it through `AWS_ENDPOINT_URL_SCHEDULER` alone, and fires
 * `at()` and `rate()` schedules to the second with the retry policy, dead-letter queue and
 * ActionAfterCompletion semantics of the real service.
 *
 * One deliberate difference: AWS invokes a Lambda target asynchronously, so a handler's error is retried by Lambda's
 * own async retries, not by the schedule's RetryPolicy. Locally the two layers are folded into one: a handler that
 * throws counts as a failed delivery, is retried per the schedule's RetryPolicy, and ends in its dead-letter queue.
 */

/** Where exhausted deliveries go; {@link sqsDeadLetterSender} implements it with a real (or local) SQS client. */
export interface DeadLetterSender {
  sendToDeadLetterQueue(
    queueArn: string,
    body: string,
    attributes: Readonly<Record<string, string>>,
  ): Promise<void>;
}

export interface LocalSchedulerOptions {
  readonly invoker: FunctionInvoker;
  readonly region: string;
  readonly accountId: string;
  /** Lambda function ARN used as `Target.Arn` -> local function name. Other targets are refused. */
  readonly targetFunctions: Readonly<Record<string, string>>;
  /** Required for schedules with `Target.DeadLetterConfig`; such schedules are refused without it. */
  readonly deadLetters?: DeadLetterSender;
  /** Schedule name -> interval in seconds replacing its `rate()` locally, e.g. a 1-minute sweeper every 2 s. */
  readonly rateOverridesSeconds?: Readonly<Record<string, number>>;
  /** First retry delay; each further retry doubles it up to `retryMaxDelayMs`. Default 1000. */
  readonly retryBaseDelayMs?: number;
  /** Default 60000. */
  readonly retryMaxDelayMs?: number;
  /** How many invocation records {@link LocalScheduler.inspect} keeps, oldest dropped first. Default 1000. */
  readonly maxInvocationRecords?: number;
  /** Default: a free loopback port. */
  readonly port?: number;
}

export interface LocalScheduleSummary {
  readonly arn: string;
  readonly name: string;
  readonly groupName: string;
  readonly expression: string;
  readonly state: ScheduleState;
  readonly targetArn: string;
  readonly functionName: string;
  /** ISO time of the next invocation; absent when disabled or completed. */
  readonly nextInvocation?: string;
}

/** One attempt to invoke a schedule's target. */
export interface ScheduleInvocationRecord {
  readonly scheduleArn: string;
  readonly scheduleName: string;
  readonly groupName: string;
  readonly functionName: string;
  readonly executionId: string;
  readonly scheduledTime: string;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly outcome: 'SUCCEEDED' | 'FAILED';
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface DeadLetterRecord {
  readonly scheduleArn: string;
  readonly queueArn: string;
  readonly executionId: string;
  readonly scheduledTime: string;
  readonly at: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** False when sending to the queue failed; `sendError` says why. */
  readonly delivered: boolean;
  readonly sendError?: string;
}

export interface LocalSchedulerSnapshot {
  readonly schedules: readonly LocalScheduleSummary[];
  readonly invocations: readonly ScheduleInvocationRecord[];
  readonly deadLetters: readonly DeadLetterRecord[];
}

export interface LocalScheduler {
  /** Base URL for `AWS_ENDPOINT_URL_SCHEDULER` or a client's `endpoint`. */
  readonly url: string;
  /** For the `/_local/` inspection route: schedules, recent invocations and dead letters. */
  inspect(): LocalSchedulerSnapshot;
  /** Cancels timers and pending retries and closes the server; an invocation already running is not awaited. */
  stop(): Promise<void>;
}

export const ScheduleState = { Enabled: 'ENABLED', Disabled: 'DISABLED' } as const;
export type ScheduleState = (typeof ScheduleState)[keyof typeof ScheduleState];

/** Base class of this module's errors; `code` is stable across releases. */
export class LocalSchedulerError extends Error {
  public override readonly name: string = 'LocalSchedulerError';
  public readonly code: string;

  public constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Error types of the Scheduler API that this endpoint answers with; the SDK maps each to its exception class. */
export type SchedulerApiErrorType =
  | 'ValidationException'
  | 'ResourceNotFoundException'
  | 'ConflictException'
  | 'InternalServerException'
  | 'UnknownOperationException';

const STATUS_OF: Readonly<Record<SchedulerApiErrorType, number>> = {
  ValidationException: 400,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  InternalServerException: 500,
  UnknownOperationException: 400,
};

/** An API call the endpoint refuses, answered with the AWS error shape of the same `code`. */
export class SchedulerApiError extends LocalSchedulerError {
  public override readonly name = 'SchedulerApiError';
  public readonly statusCode: number;

  public constructor(code: SchedulerApiErrorType, message: string) {
    super(code, message);
    this.statusCode = STATUS_OF[code];
  }
}

/** The dead-letter queue named by an ARN could not be reached. */
export class DeadLetterSendError extends LocalSchedulerError {
  public override readonly name = 'DeadLetterSendError';

  public constructor(message: string, options?: ErrorOptions) {
    super('LOCAL_SCHEDULER_DEAD_LETTER_SEND_FAILED', message, options);
  }
}

/**
 * Sends dead letters with an SQS client (pointed at the local SQS in the local runtime), resolving each queue ARN
 * to its URL once. The attributes travel as String message attributes, as EventBridge Scheduler sends them.
 */
export function sqsDeadLetterSender(sqs: SQSClient): DeadLetterSender {
  const urls = new Map<string, Promise<string>>();
  const queueUrl = (queueArn: string): Promise<string> => {
    let url = urls.get(queueArn);
    if (url === undefined) {
      const [, , , , owner, queueName] = queueArn.split(':');
      if (owner === undefined || queueName === undefined) {
        return Promise.reject(new DeadLetterSendError(`Not an SQS queue ARN: ${queueArn}`));
      }
      url = sqs
        .send(new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: owner }))
        .then((out) => {
          if (out.QueueUrl === undefined) throw new DeadLetterSendError(`No URL for queue ${queueArn}`);
          return out.QueueUrl;
        });
      // A failed lookup is not cached: the queue may be created later.
      url.catch(() => urls.delete(queueArn));
      urls.set(queueArn, url);
    }
    return url;
  };
  return {
    async sendToDeadLetterQueue(queueArn, body, attributes) {
      try {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: await queueUrl(queueArn),
            MessageBody: body,
            MessageAttributes: Object.fromEntries(
              Object.entries(attributes).map(([name, value]) => [
                name,
                { DataType: 'String', StringValue: value },
              ]),
            ),
          }),
        );
      } catch (error) {
        if (error instanceof DeadLetterSendError) throw error;
        throw new DeadLetterSendError(`Could not send to ${queueArn}: ${String(error)}`, { cause: error });
      }
    },
  };
}

const DEFAULT_GROUP = 'default';
const DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185;
const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400;
// setTimeout fires at once for delays above 2^31-1 ms; longer waits are armed in steps.
const MAX_TIMER_DELAY_MS = 2_147_483_647;
const MAX_REQUEST_BYTES = 1024 * 1024;
const LAMBDA_FUNCTION_ARN = /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]+)(:[^:]+)?$/;
const SQS_QUEUE_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_.-]+$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { minute: 60, hour: 3600, day: 86_400 };
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Z']);

const targetShape = z.object({
  Arn: z.string().min(1).max(1600),
  RoleArn: z.string().min(1).max(1600),
  Input: z.string().min(1).max(8192).optional(),
  DeadLetterConfig: z.object({ Arn: z.string().min(1).max(1600).optional() }).optional(),
  RetryPolicy: z
    .object({
      MaximumRetryAttempts: z.number().int().min(0).max(185).optional(),
      MaximumEventAgeInSeconds: z.number().int().min(60).max(86_400).optional(),
    })
    .optional(),
});

const scheduleShape = z.object({
  ScheduleExpression: z.string().min(1).max(256),
  Target: targetShape,
  FlexibleTimeWindow: z.object({
    Mode: z.enum(['OFF', 'FLEXIBLE']),
    MaximumWindowInMinutes: z.number().int().min(1).max(1440).optional(),
  }),
  GroupName: z.string().min(1).max(64).optional(),
  StartDate: z.number().optional(),
  EndDate: z.number().optional(),
  Description: z.string().max(512).optional(),
  ScheduleExpressionTimezone: z.string().min(1).max(50).optional(),
  State: z.enum(['ENABLED', 'DISABLED']).optional(),
  KmsKeyArn: z.string().max(2048).optional(),
  ClientToken: z.string().min(1).max(64).optional(),
  ActionAfterCompletion: z.enum(['NONE', 'DELETE']).optional(),
});
type ScheduleRequest = z.infer<typeof scheduleShape>;

const groupShape = z.object({ ClientToken: z.string().optional() });

type Expression =
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'rate'; readonly seconds: number };

interface StoredSchedule {
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

interface StoredGroup {
  readonly arn: string;
  readonly name: string;
  readonly creationDate: Date;
}

interface PendingSleep {
  readonly timer: NodeJS.Timeout;
  readonly resolve: (completed: boolean) => void;
}

/**
 * Starts the local EventBridge Scheduler endpoint on 127.0.0.1, with the `default` schedule group in place.
 */
export async function startLocalScheduler(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const service = new SchedulerService(options);
  const server = await startLoopbackServer(
    (request, response) => handleRequest(service, request, response),
    options.port,
  );
  return {
    url: server.url,
    inspect: () => service.inspect(),
    stop: async () => {
      service.shutdown();
      await server.close();
    },
  };
}

class SchedulerService {
  private readonly schedules = new Map<string, StoredSchedule>();
  private readonly groups = new Map<string, StoredGroup>();
  private readonly functions: ReadonlyMap<string, string>;
  private readonly rateOverrides: ReadonlyMap<string, number>;
  private readonly invocations: ScheduleInvocationRecord[] = [];
  private readonly deadLetters: DeadLetterRecord[] = [];
  private readonly sleeping = new Set<PendingSleep>();
  private stopped = false;

  public constructor(private readonly options: LocalSchedulerOptions) {
    // Maps, not the records, so that names such as `constructor` cannot resolve to Object.prototype members.
    this.functions = new Map(Object.entries(options.targetFunctions));
    this.rateOverrides = new Map(Object.entries(options.rateOverridesSeconds ?? {}));
    for (const [name, seconds] of this.rateOverrides) {
      if (!(seconds > 0)) {
        throw new LocalSchedulerError(
          'LOCAL_SCHEDULER_INVALID_OPTION',
          `rate override for ${name} must be > 0 s`,
        );
      }
    }
    this.groups.set(DEFAULT_GROUP, {
      arn: this.groupArn(DEFAULT_GROUP),
      name: DEFAULT_GROUP,
      creationDate: new Date(),
    });
  }

  public route(method: string, path: string, query: URLSearchParams, body: unknown): JsonObject {
    const segments = path
      .split('/')
      .filter((segment) => segment.length > 0)
      .map(decodeURIComponent);
    const [collection, name, ...rest] = segments;
    if (rest.length === 0 && collection === 'schedules') {
      if (name === undefined && method === 'GET') return this.listSchedules(query);
      if (name !== undefined) {
        switch (method) {
          case 'POST':
            return this.createSchedule(name, parse(scheduleShape, body));
          case 'GET':
            return this.getSchedule(name, query.get('groupName') ?? DEFAULT_GROUP);
          case 'PUT':
            return this.updateSchedule(name, parse(scheduleShape, body));
          case 'DELETE':
            return this.deleteSchedule(name, query.get('groupName') ?? DEFAULT_GROUP);
        }
      }
    }
    if (rest.length === 0 && collection === 'schedule-groups') {
      if (name === undefined && method === 'GET') return this.listScheduleGroups(query);
      if (name !== undefined) {
        switch (method) {
          case 'POST':
            parse(groupShape, body);
            return this.createScheduleGroup(name);
          case 'GET':
            return this.getScheduleGroup(name);
          case 'DELETE':
            return this.deleteScheduleGroup(name);
        }
      }
    }
    throw new SchedulerApiError(
      'UnknownOperationException',
      `The local Scheduler endpoint does not support ${method} ${path}`,
    );
  }

  public inspect(): LocalSchedulerSnapshot {
    return {
      schedules: [...this.schedules.values()].map((schedule) => ({
        arn: schedule.arn,
        name: schedule.name,
        groupName: schedule.groupName,
        expression: schedule.request.ScheduleExpression,
        state: schedule.request.State ?? 'ENABLED',
        targetArn: schedule.request.Target.Arn,
        functionName: schedule.functionName,
        ...(schedule.nextFireAt !== undefined && {
          nextInvocation: new Date(schedule.nextFireAt).toISOString(),
        }),
      })),
      invocations: [...this.invocations],
      deadLetters: [...this.deadLetters],
    };
  }

  public shutdown(): void {
    this.stopped = true;
    for (const schedule of this.schedules.values()) this.disarm(schedule);
    for (const sleep of this.sleeping) {
      clearTimeout(sleep.timer);
      sleep.resolve(false);
    }
    this.sleeping.clear();
  }

  private createSchedule(name: string, request: ScheduleRequest): JsonObject {
    const groupName = request.GroupName ?? DEFAULT_GROUP;
    const key = scheduleKey(groupName, name);
    const existing = this.schedules.get(key);
    if (existing !== undefined) {
      // The SDK sends one ClientToken per call and reuses it on retries: a retried create is not a conflict.
      if (request.ClientToken !== undefined && existing.request.ClientToken === request.ClientToken) {
        return { ScheduleArn: existing.arn };
      }
      throw new SchedulerApiError('ConflictException', `Schedule ${name} already exists.`);
    }
    const schedule = this.validate(name, groupName, request, new Date());
    this.schedules.set(key, schedule);
    this.arm(schedule);
    return { ScheduleArn: schedule.arn };
  }

  private updateSchedule(name: string, request: ScheduleRequest): JsonObject {
    const groupName = request.GroupName ?? DEFAULT_GROUP;
    const key = scheduleKey(groupName, name);
    const existing = this.schedules.get(key);
    if (existing === undefined) throw this.scheduleNotFound(name);
    // UpdateSchedule replaces the whole definition, as in AWS: omitted fields take their defaults.
    const schedule = this.validate(name, groupName, request, existing.creationDate);
    if (schedule.expression.kind === 'at' && existing.firedAt === schedule.expression.at) {
      schedule.firedAt = existing.firedAt;
      schedule.completed = true;
    }
    this.disarm(existing);
    this.schedules.set(key, schedule);
    this.arm(schedule);
    return { ScheduleArn: schedule.arn };
  }

  private getSchedule(name: string, groupName: string): JsonObject {
    const schedule = this.schedules.get(scheduleKey(groupName, name));
    if (schedule === undefined) throw this.scheduleNotFound(name);
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
      State: request.State ?? 'ENABLED',
      CreationDate: epochSeconds(schedule.creationDate),
      LastModificationDate: epochSeconds(schedule.lastModificationDate),
      ...(request.KmsKeyArn !== undefined && { KmsKeyArn: request.KmsKeyArn }),
      Target: request.Target,
      FlexibleTimeWindow: request.FlexibleTimeWindow,
      ActionAfterCompletion: request.ActionAfterCompletion ?? 'NONE',
    };
  }

  private deleteSchedule(name: string, groupName: string): JsonObject {
    const key = scheduleKey(groupName, name);
    const schedule = this.schedules.get(key);
    if (schedule === undefined) throw this.scheduleNotFound(name);
    this.disarm(schedule);
    this.schedules.delete(key);
    return {};
  }

  private listSchedules(query: URLSearchParams): JsonObject {
    const groupName = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix');
    const state = query.get('State');
    const maxResults = pageSize(query.get('MaxResults'));
    const after = query.get('NextToken');
    const matching = [...this.schedules.values()]
      .filter(
        (schedule) =>
          (groupName === null || schedule.groupName === groupName) &&
          (prefix === null || schedule.name.startsWith(prefix)) &&
          (state === null || (schedule.request.State ?? 'ENABLED') === state),
      )
      .sort((a, b) => scheduleKey(a.groupName, a.name).localeCompare(scheduleKey(b.groupName, b.name)))
      .filter(
        (schedule) => after === null || scheduleKey(schedule.groupName, schedule.name) > decodeToken(after),
      );
    const page = matching.slice(0, maxResults);
    const last = page.at(-1);
    return {
      Schedules: page.map((schedule) => ({
        Arn: schedule.arn,
        Name: schedule.name,
        GroupName: schedule.groupName,
        State: schedule.request.State ?? 'ENABLED',
        CreationDate: epochSeconds(schedule.creationDate),
        LastModificationDate: epochSeconds(schedule.lastModificationDate),
        Target: { Arn: schedule.request.Target.Arn },
      })),
      ...(last !== undefined &&
        matching.length > page.length && { NextToken: encodeToken(scheduleKey(last.groupName, last.name)) }),
    };
  }

  private createScheduleGroup(name: string): JsonObject {
    if (!SCHEDULER_NAME.test(name))
      throw new SchedulerApiError('ValidationException', `Invalid schedule group name: ${name}`);
    if (this.groups.has(name))
      throw new SchedulerApiError('ConflictException', `Schedule group ${name} already exists.`);
    const group: StoredGroup = { arn: this.groupArn(name), name, creationDate: new Date() };
    this.groups.set(name, group);
    return { ScheduleGroupArn: group.arn };
  }

  private getScheduleGroup(name: string): JsonObject {
    const group = this.groups.get(name);
    if (group === undefined) throw this.groupNotFound(name);
    return describeGroup(group);
  }

  private listScheduleGroups(query: URLSearchParams): JsonObject {
    const prefix = query.get('NamePrefix');
    const after = query.get('NextToken');
    const matching = [...this.groups.values()]
      .filter((group) => prefix === null || group.name.startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((group) => after === null || group.name > decodeToken(after));
    const page = matching.slice(0, pageSize(query.get('MaxResults')));
    const last = page.at(-1);
    return {
      ScheduleGroups: page.map(describeGroup),
      ...(last !== undefined && matching.length > page.length && { NextToken: encodeToken(last.name) }),
    };
  }

  private deleteScheduleGroup(name: string): JsonObject {
    if (name === DEFAULT_GROUP) {
      throw new SchedulerApiError('ValidationException', 'The default schedule group cannot be deleted.');
    }
    if (!this.groups.has(name)) throw this.groupNotFound(name);
    for (const [key, schedule] of this.schedules) {
      if (schedule.groupName === name) {
        this.disarm(schedule);
        this.schedules.delete(key);
      }
    }
    this.groups.delete(name);
    return {};
  }

  /** Checks a create or update request as AWS would, plus what the local stand-in cannot do. */
  private validate(
    name: string,
    groupName: string,
    request: ScheduleRequest,
    creationDate: Date,
  ): StoredSchedule {
    if (!SCHEDULER_NAME.test(name))
      throw new SchedulerApiError('ValidationException', `Invalid schedule name: ${name}`);
    if (!this.groups.has(groupName)) throw this.groupNotFound(groupName);
    const timezone = request.ScheduleExpressionTimezone;
    if (timezone !== undefined && !UTC_ZONES.has(timezone)) {
      throw new SchedulerApiError(
        'ValidationException',
        `ScheduleExpressionTimezone ${timezone} is not supported by the local scheduler; use UTC`,
      );
    }
    const expression = parseExpression(request.ScheduleExpression);
    const window = request.FlexibleTimeWindow;
    if (window.Mode === 'OFF' && window.MaximumWindowInMinutes !== undefined) {
      throw new SchedulerApiError(
        'ValidationException',
        'MaximumWindowInMinutes must not be set when Mode is OFF',
      );
    }
    if (window.Mode === 'FLEXIBLE' && window.MaximumWindowInMinutes === undefined) {
      throw new SchedulerApiError(
        'ValidationException',
        'MaximumWindowInMinutes is required when Mode is FLEXIBLE',
      );
    }
    if (
      request.StartDate !== undefined &&
      request.EndDate !== undefined &&
      request.EndDate <= request.StartDate
    ) {
      throw new SchedulerApiError('ValidationException', 'EndDate must be after StartDate');
    }
    if (request.EndDate !== undefined && request.EndDate * 1000 <= Date.now()) {
      throw new SchedulerApiError(
        'ValidationException',
        'The EndDate you specify cannot be earlier than today.',
      );
    }
    const functionName = this.functionFor(request.Target.Arn);
    if (request.Target.Input !== undefined) {
      try {
        JSON.parse(request.Target.Input);
      } catch {
        throw new SchedulerApiError(
          'ValidationException',
          'Target.Input must be valid JSON for a Lambda target',
        );
      }
    }
    const deadLetterArn = request.Target.DeadLetterConfig?.Arn;
    if (deadLetterArn !== undefined) {
      if (!SCHEDULER_DEAD_LETTER_ARN.test(deadLetterArn)) {
        throw new SchedulerApiError(
          'ValidationException',
          `DeadLetterConfig.Arn must be the ARN of a standard SQS queue: ${deadLetterArn}`,
        );
      }
      if (this.options.deadLetters === undefined) {
        throw new SchedulerApiError(
          'ValidationException',
          'The local scheduler was started without a dead-letter sender, so DeadLetterConfig cannot be honoured',
        );
      }
    }
    return {
      arn: `arn:aws:scheduler:${this.options.region}:${this.options.accountId}:schedule/${groupName}/${name}`,
      name,
      groupName,
      request,
      expression,
      functionName,
      creationDate,
      lastModificationDate: new Date(),
      completed: false,
    };
  }

  private functionFor(targetArn: string): string {
    const match = LAMBDA_FUNCTION_ARN.exec(targetArn);
    const functionName =
      match === null ? undefined : (this.functions.get(targetArn) ?? this.functions.get(match[1] ?? ''));
    if (functionName !== undefined) return functionName;
    const kind = SQS_QUEUE_ARN.test(targetArn)
      ? 'SQS targets are not supported by the local scheduler'
      : match === null
        ? 'only Lambda function targets are supported by the local scheduler'
        : 'the function is not declared in the local targetFunctions';
    throw new SchedulerApiError('ValidationException', `Invalid Target.Arn ${targetArn}: ${kind}`);
  }

  /**
   * Arms the timer for the next invocation. FLEXIBLE windows fire at the window's start, as OFF does: AWS may pick
   * any moment in the window, and firing at its start is one such moment that keeps local runs deterministic.
   */
  private arm(schedule: StoredSchedule): void {
    this.disarm(schedule);
    if (this.stopped || (schedule.request.State ?? 'ENABLED') !== 'ENABLED') return;
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

  private disarm(schedule: StoredSchedule): void {
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
    void this.deliver(schedule, scheduledTime);
  }

  /** Invokes the target, retrying per RetryPolicy, then dead-letters; a completed DELETE schedule is then removed. */
  private async deliver(schedule: StoredSchedule, scheduledTime: number): Promise<void> {
    const { Target: target } = schedule.request;
    const maxRetries = target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_MAXIMUM_RETRY_ATTEMPTS;
    const maxAgeMs =
      (target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_MAXIMUM_EVENT_AGE_SECONDS) * 1000;
    const baseDelayMs = this.options.retryBaseDelayMs ?? 1000;
    const maxDelayMs = this.options.retryMaxDelayMs ?? 60_000;
    const executionId = randomUUID();
    const payload: unknown = target.Input === undefined ? {} : JSON.parse(target.Input);

    for (let attempt = 1; ; attempt++) {
      const startedAt = new Date();
      const failure = await this.invoke(schedule.functionName, payload);
      this.record({
        scheduleArn: schedule.arn,
        scheduleName: schedule.name,
        groupName: schedule.groupName,
        functionName: schedule.functionName,
        executionId,
        scheduledTime: new Date(scheduledTime).toISOString(),
        attempt,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        outcome: failure === undefined ? 'SUCCEEDED' : 'FAILED',
        ...(failure !== undefined && { errorCode: failure.code, errorMessage: failure.message }),
      });
      if (this.stopped) return;
      if (failure === undefined) break;

      const delayMs = Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs);
      const exhausted =
        attempt - 1 >= maxRetries
          ? 'MaximumRetryAttempts'
          : Date.now() + delayMs - scheduledTime > maxAgeMs
            ? 'MaximumEventAgeInSeconds'
            : undefined;
      if (exhausted !== undefined) {
        await this.deadLetter(schedule, scheduledTime, executionId, attempt - 1, exhausted, failure);
        break;
      }
      if (!(await this.sleep(delayMs))) return;
    }
    this.removeIfCompleted(schedule);
  }

  private async invoke(
    functionName: string,
    payload: unknown,
  ): Promise<{ code: string; message: string } | undefined> {
    try {
      await this.options.invoker.invoke(functionName, payload);
      return undefined;
    } catch (error) {
      if (error instanceof FunctionInvocationError)
        return { code: error.errorType, message: error.errorMessage };
      return {
        code: error instanceof Error ? error.name : 'Error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
  }

  private async deadLetter(
    schedule: StoredSchedule,
    scheduledTime: number,
    executionId: string,
    retryAttempts: number,
    exhaustedCondition: string,
    failure: { code: string; message: string },
  ): Promise<void> {
    const target = schedule.request.Target;
    const queueArn = target.DeadLetterConfig?.Arn;
    const sender = this.options.deadLetters;
    if (queueArn === undefined || sender === undefined) return;
    // The attribute names EventBridge Scheduler puts on its dead-letter messages.
    const attributes: Record<string, string> = {
      ERROR_CODE: failure.code,
      ERROR_MESSAGE: failure.message,
      EXECUTION_ID: executionId,
      EXHAUSTED_RETRY_CONDITION: exhaustedCondition,
      IS_PAYLOAD_TRUNCATED: 'false',
      RETRY_ATTEMPTS: String(retryAttempts),
      SCHEDULED_TIME: new Date(scheduledTime).toISOString(),
      SCHEDULE_ARN: schedule.arn,
      TARGET_ARN: target.Arn,
    };
    const base = {
      scheduleArn: schedule.arn,
      queueArn,
      executionId,
      scheduledTime: new Date(scheduledTime).toISOString(),
      attributes,
    };
    try {
      await sender.sendToDeadLetterQueue(queueArn, target.Input ?? '{}', attributes);
      this.deadLetters.push({ ...base, at: new Date().toISOString(), delivered: true });
    } catch (error) {
      this.deadLetters.push({
        ...base,
        at: new Date().toISOString(),
        delivered: false,
        sendError: error instanceof Error ? error.message : String(error),
      });
    }
    this.trim(this.deadLetters);
  }

  /** ActionAfterCompletion DELETE: the schedule goes once its last invocation, retries included, is over. */
  private removeIfCompleted(schedule: StoredSchedule): void {
    if (this.stopped || !schedule.completed || schedule.request.ActionAfterCompletion !== 'DELETE') return;
    const key = scheduleKey(schedule.groupName, schedule.name);
    // Only the definition that fired is removed: one updated meanwhile to a new time lives on.
    if (this.schedules.get(key) === schedule) this.schedules.delete(key);
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sleep: PendingSleep = {
        timer: setTimeout(() => {
          this.sleeping.delete(sleep);
          resolve(true);
        }, ms),
        resolve,
      };
      this.sleeping.add(sleep);
    });
  }

  private record(invocation: ScheduleInvocationRecord): void {
    this.invocations.push(invocation);
    this.trim(this.invocations);
  }

  private trim(records: unknown[]): void {
    const max = this.options.maxInvocationRecords ?? 1000;
    if (records.length > max) records.splice(0, records.length - max);
  }

  private groupArn(name: string): string {
    return `arn:aws:scheduler:${this.options.region}:${this.options.accountId}:schedule-group/${name}`;
  }

  private scheduleNotFound(name: string): SchedulerApiError {
    return new SchedulerApiError('ResourceNotFoundException', `Schedule ${name} does not exist.`);
  }

  private groupNotFound(name: string): SchedulerApiError {
    return new SchedulerApiError('ResourceNotFoundException', `Schedule group ${name} does not exist.`);
  }
}

function parseExpression(text: string): Expression {
  const at = AT_EXPRESSION.exec(text);
  if (at !== null) {
    const [year, month, day, hour, minute, second] = at.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const instant = Date.UTC(year, month - 1, day, hour, minute, second);
    const check = new Date(instant);
    // Date.UTC rolls 2025-02-30 over to March; AWS rejects such dates, and so does this round trip.
    if (
      check.getUTCMonth() !== month - 1 ||
      check.getUTCDate() !== day ||
      hour > 23 ||
      minute > 59 ||
      second > 59
    ) {
      throw new SchedulerApiError('ValidationException', `Invalid Schedule Expression ${text}.`);
    }
    return { kind: 'at', at: instant };
  }
  const rate = RATE_EXPRESSION.exec(text);
  if (rate !== null) {
    const value = Number(rate[1]);
    const unit = (rate[2] ?? '').replace(/s$/, '');
    const unitSeconds = UNIT_SECONDS[unit];
    if (value < 1 || unitSeconds === undefined) {
      throw new SchedulerApiError('ValidationException', `Invalid Schedule Expression ${text}.`);
    }
    return { kind: 'rate', seconds: value * unitSeconds };
  }
  if (text.startsWith('cron(')) {
    throw new SchedulerApiError(
      'ValidationException',
      `cron() expressions are not supported by the local scheduler: ${text}`,
    );
  }
  throw new SchedulerApiError('ValidationException', `Invalid Schedule Expression ${text}.`);
}

function describeGroup(group: StoredGroup): JsonObject {
  return {
    Arn: group.arn,
    Name: group.name,
    State: 'ACTIVE',
    CreationDate: epochSeconds(group.creationDate),
    LastModificationDate: epochSeconds(group.creationDate),
  };
}

function scheduleKey(groupName: string, name: string): string {
  return `${groupName}/${name}`;
}

function pageSize(maxResults: string | null): number {
  if (maxResults === null) return 100;
  const size = Number(maxResults);
  if (!Number.isInteger(size) || size < 1 || size > 100) {
    throw new SchedulerApiError('ValidationException', 'MaxResults must be between 1 and 100');
  }
  return size;
}

function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  return validateInput(schema, body, (message) => new SchedulerApiError('ValidationException', message));
}

async function handleRequest(service: SchedulerService, request: IncomingMessage, response: ServerResponse) {
  try {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const text = await readBody(
      request,
      MAX_REQUEST_BYTES,
      () => new SchedulerApiError('ValidationException', 'The request body is too large'),
    );
    const body = parseJsonBody(
      text,
      () => new SchedulerApiError('ValidationException', 'The request body is not valid JSON'),
    );
    sendRestJson(response, 200, service.route(request.method ?? 'GET', url.pathname, url.searchParams, body));
  } catch (error) {
    if (error instanceof SchedulerApiError) {
      sendRestJson(response, error.statusCode, { Message: error.message }, error.code);
      return;
    }
    sendRestJson(
      response,
      500,
      { Message: error instanceof Error ? error.message : String(error) },
      'InternalServerException',
    );
  }
}

/** REST-JSON names an error in the `x-amzn-errortype` header, not in the body as the JSON-target protocols do. */
function sendRestJson(
  response: ServerResponse,
  statusCode: number,
  body: JsonObject,
  errorType?: string,
): void {
  sendJson(
    response,
    statusCode,
    body,
    'application/json',
    errorType === undefined ? undefined : { 'x-amzn-errortype': errorType },
  );
}

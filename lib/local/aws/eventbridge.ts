import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type JsonObject, startLoopbackServer } from '../http';
import {
  AwsApiError,
  epochSeconds,
  type JsonTargetProtocol,
  jsonTargetHandler,
  validateInput,
} from './aws-protocol-server';

/**
 * A local stand-in for the EventBridge API subset the system uses: PutEvents and event bus management, over the
 * AWS JSON 1.1 protocol, so handlers reach it through `AWS_ENDPOINT_URL_EVENTBRIDGE` alone. Accepted events are
 * kept in memory for inspection; rules and targets are not modelled.
 */

export interface LocalEventBridgeOptions {
  readonly region: string;
  readonly accountId: string;
  /** Default: a free loopback port. */
  readonly port?: number;
  /** How many accepted events {@link LocalEventBridge.events} keeps, oldest dropped first. Default 10000. */
  readonly maxStoredEvents?: number;
}

/** An accepted event, in the shape EventBridge would deliver it to a rule target. */
export interface LocalEvent {
  readonly id: string;
  readonly eventBusName: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
  readonly resources: readonly string[];
  /** The entry's `Time`, or the time of receipt when it has none (ISO 8601). */
  readonly time: string;
  readonly receivedAt: string;
  readonly traceHeader?: string;
}

export interface LocalEventBridge {
  /** Base URL for `AWS_ENDPOINT_URL_EVENTBRIDGE` or a client's `endpoint`. */
  readonly url: string;
  /** Accepted events, oldest first, for the `/_local/` inspection route and for tests. */
  events(): readonly LocalEvent[];
  /** Closes the server. */
  stop(): Promise<void>;
}

/** Error types of the EventBridge API that this endpoint answers with; the SDK maps each to its exception class. */
export type EventBridgeApiErrorType =
  | 'ValidationException'
  | 'ResourceNotFoundException'
  | 'ResourceAlreadyExistsException'
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'InternalException';

/** An API call the endpoint refuses, answered with the AWS error shape of the same `code`. */
export class EventBridgeApiError extends AwsApiError<EventBridgeApiErrorType> {
  public override readonly name = 'EventBridgeApiError';
}

const DEFAULT_BUS = 'default';
const MAX_ENTRIES = 10;
const MAX_ENTRIES_BYTES = 256 * 1024;
// The Time field counts as 14 bytes in AWS's entry size formula, whatever its encoding.
const TIME_FIELD_BYTES = 14;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;

const PROTOCOL: JsonTargetProtocol = {
  targetPrefix: 'AWSEvents.',
  contentType: 'application/x-amz-json-1.1',
  maxRequestBytes: MAX_REQUEST_BYTES,
  internalErrorType: 'InternalException',
  apiError: EventBridgeApiError,
};

const entryShape = z.object({
  Time: z.number().optional(),
  Source: z.string().optional(),
  Resources: z.array(z.string()).optional(),
  DetailType: z.string().optional(),
  Detail: z.string().optional(),
  EventBusName: z.string().optional(),
  TraceHeader: z.string().optional(),
});
type Entry = z.infer<typeof entryShape>;

const putEventsShape = z.object({
  Entries: z.array(entryShape),
  EndpointId: z.string().optional(),
});
const createEventBusShape = z.object({
  Name: z.string(),
  EventSourceName: z.string().optional(),
  Description: z.string().max(512).optional(),
});
const busNameShape = z.object({ Name: z.string().optional() });
const listEventBusesShape = z.object({
  NamePrefix: z.string().optional(),
  NextToken: z.string().optional(),
  Limit: z.number().int().min(1).max(100).optional(),
});

interface StoredBus {
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly creationTime: Date;
}

interface EntryRejection {
  readonly ErrorCode: string;
  readonly ErrorMessage: string;
}
type EntryResult = { readonly EventId: string } | EntryRejection;

/**
 * Starts the local EventBridge endpoint on 127.0.0.1, with the `default` event bus in place.
 */
export async function startLocalEventBridge(options: LocalEventBridgeOptions): Promise<LocalEventBridge> {
  const service = new EventBridgeService(options);
  const server = await startLoopbackServer(
    jsonTargetHandler(PROTOCOL, (operation, body) => service.dispatch(operation, body)),
    options.port,
  );
  return {
    url: server.url,
    events: () => service.events(),
    stop: () => server.close(),
  };
}

class EventBridgeService {
  private readonly buses = new Map<string, StoredBus>();
  private readonly accepted: LocalEvent[] = [];

  public constructor(private readonly options: LocalEventBridgeOptions) {
    this.buses.set(DEFAULT_BUS, {
      name: DEFAULT_BUS,
      arn: this.busArn(DEFAULT_BUS),
      creationTime: new Date(),
    });
  }

  public dispatch(operation: string, body: unknown): JsonObject {
    switch (operation) {
      case 'PutEvents':
        return this.putEvents(parse(putEventsShape, body).Entries);
      case 'CreateEventBus':
        return this.createEventBus(parse(createEventBusShape, body));
      case 'DescribeEventBus':
        return this.describeEventBus(parse(busNameShape, body).Name);
      case 'DeleteEventBus':
        return this.deleteEventBus(parse(busNameShape, body).Name);
      case 'ListEventBuses':
        return this.listEventBuses(parse(listEventBusesShape, body));
      default:
        throw new EventBridgeApiError(
          'UnknownOperationException',
          `The local EventBridge endpoint does not support ${operation}`,
        );
    }
  }

  public events(): readonly LocalEvent[] {
    return [...this.accepted];
  }

  /** Request-level limits fail the whole call, as in AWS; everything else fails only its own entry. */
  private putEvents(entries: readonly Entry[]): JsonObject {
    if (entries.length === 0 || entries.length > MAX_ENTRIES) {
      throw new EventBridgeApiError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length ` +
          `between 1 and ${MAX_ENTRIES}`,
      );
    }
    if (entries.reduce((total, entry) => total + entrySize(entry), 0) > MAX_ENTRIES_BYTES) {
      throw new EventBridgeApiError(
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );
    }
    const receivedAt = new Date();
    const results = entries.map((entry) => this.accept(entry, receivedAt));
    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  }

  private accept(entry: Entry, receivedAt: Date): EntryResult {
    const checked = checkedEntry(entry);
    if ('ErrorCode' in checked) return checked;
    const { source, detailType, detail } = checked;
    const busName = busNameOf(entry.EventBusName);
    if (!this.buses.has(busName)) {
      // AWS accepts and silently drops events for a missing bus; locally the typo is surfaced instead.
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
    }
    const event: LocalEvent = {
      id: randomUUID(),
      eventBusName: busName,
      source,
      detailType,
      detail,
      resources: entry.Resources ?? [],
      time: (entry.Time === undefined ? receivedAt : new Date(entry.Time * 1000)).toISOString(),
      receivedAt: receivedAt.toISOString(),
      ...(entry.TraceHeader !== undefined && { traceHeader: entry.TraceHeader }),
    };
    this.accepted.push(event);
    const max = this.options.maxStoredEvents ?? 10_000;
    if (this.accepted.length > max) this.accepted.splice(0, this.accepted.length - max);
    return { EventId: event.id };
  }

  private createEventBus(input: z.infer<typeof createEventBusShape>): JsonObject {
    if (!BUS_NAME.test(input.Name) || input.Name.includes('/') || input.Name === DEFAULT_BUS) {
      throw new EventBridgeApiError('ValidationException', `Event bus name ${input.Name} is not valid.`);
    }
    if (input.EventSourceName !== undefined) {
      throw new EventBridgeApiError('ValidationException', 'Partner event buses are not supported locally.');
    }
    if (this.buses.has(input.Name)) {
      throw new EventBridgeApiError(
        'ResourceAlreadyExistsException',
        `Event bus ${input.Name} already exists.`,
      );
    }
    const bus: StoredBus = {
      name: input.Name,
      arn: this.busArn(input.Name),
      ...(input.Description !== undefined && { description: input.Description }),
      creationTime: new Date(),
    };
    this.buses.set(bus.name, bus);
    return { EventBusArn: bus.arn };
  }

  private describeEventBus(nameOrArn: string | undefined): JsonObject {
    const bus = this.buses.get(busNameOf(nameOrArn));
    if (bus === undefined) {
      throw new EventBridgeApiError(
        'ResourceNotFoundException',
        `Event bus ${busNameOf(nameOrArn)} does not exist.`,
      );
    }
    return describeBus(bus);
  }

  private deleteEventBus(nameOrArn: string | undefined): JsonObject {
    const name = busNameOf(nameOrArn);
    if (name === DEFAULT_BUS)
      throw new EventBridgeApiError('ValidationException', 'Cannot delete event bus default.');
    this.buses.delete(name);
    return {};
  }

  private listEventBuses(input: z.infer<typeof listEventBusesShape>): JsonObject {
    return listBuses([...this.buses.values()], input);
  }

  private busArn(name: string): string {
    return `arn:aws:events:${this.options.region}:${this.options.accountId}:event-bus/${name}`;
  }
}

/** The fields an entry needs, or the per-entry error PutEvents answers when one is missing or refused. */
function checkedEntry(
  entry: Entry,
): { readonly source: string; readonly detailType: string; readonly detail: object } | EntryRejection {
  const rejection = (ErrorCode: string, ErrorMessage: string): EntryRejection => ({
    ErrorCode,
    ErrorMessage,
  });
  const required = (name: string) =>
    rejection('InvalidArgument', `Parameter ${name} is not valid. Reason: ${name} is a required argument.`);
  if (entry.Source === undefined || entry.Source.length === 0) return required('Source');
  if (entry.DetailType === undefined || entry.DetailType.length === 0) return required('DetailType');
  if (entry.Detail === undefined || entry.Detail.length === 0) return required('Detail');
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return rejection('MalformedDetail', 'Detail is malformed.');
  }
  // EventBridge wants a JSON object here; arrays and scalars are malformed details too.
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return rejection('MalformedDetail', 'Detail is malformed.');
  }
  if (entry.Source.startsWith('aws.')) {
    return rejection('NotAuthorizedForSourceException', 'Not authorized for the source.');
  }
  return { source: entry.Source, detailType: entry.DetailType, detail };
}

/** One page of `ListEventBuses`, by name, continuing after `NextToken` (the last name of the page before). */
function listBuses(buses: readonly StoredBus[], input: z.infer<typeof listEventBusesShape>): JsonObject {
  const matching = buses
    .filter((bus) => input.NamePrefix === undefined || bus.name.startsWith(input.NamePrefix))
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((bus) => input.NextToken === undefined || bus.name > input.NextToken);
  const page = matching.slice(0, input.Limit ?? 100);
  const last = page.at(-1);
  return {
    EventBuses: page.map(describeBus),
    ...(last !== undefined && matching.length > page.length && { NextToken: last.name }),
  };
}

/** EventBusName accepts a name or an ARN. */
function busNameOf(nameOrArn: string | undefined): string {
  if (nameOrArn === undefined || nameOrArn.length === 0) return DEFAULT_BUS;
  const marker = ':event-bus/';
  const at = nameOrArn.indexOf(marker);
  return nameOrArn.startsWith('arn:') && at >= 0 ? nameOrArn.slice(at + marker.length) : nameOrArn;
}

function describeBus(bus: StoredBus): JsonObject {
  return {
    Name: bus.name,
    Arn: bus.arn,
    ...(bus.description !== undefined && { Description: bus.description }),
    CreationTime: epochSeconds(bus.creationTime),
    LastModifiedTime: epochSeconds(bus.creationTime),
  };
}

/** AWS's formula for an entry's size against the 256 KB PutEvents limit. */
function entrySize(entry: Entry): number {
  const bytes = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return (
    (entry.Time === undefined ? 0 : TIME_FIELD_BYTES) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((total, resource) => total + bytes(resource), 0)
  );
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  return validateInput(schema, body, (message) => new EventBridgeApiError('ValidationException', message));
}

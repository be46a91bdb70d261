import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type Projection,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  HIGH_THROUGHPUT_FIFO,
  type QueueDeclaration,
  type TableDeclaration,
  type TableIndexDeclaration,
} from '../../model';
import { rebaseQueueUrl, sqsEndpointOrigin } from '../../sqs-endpoints';
import { LocalServerError } from '../http';

/** A persisted table or queue no longer matches its declaration in a way that cannot be changed in place. */
export class ResourceDeclarationConflictError extends LocalServerError {
  public override readonly name = 'ResourceDeclarationConflictError';
  public readonly resourceName: string;

  public constructor(resourceName: string, detail: string) {
    super(
      'RESOURCE_DECLARATION_CONFLICT',
      `${resourceName} exists with a shape its declaration no longer has (${detail}); delete the local data folder to recreate it`,
    );
    this.resourceName = resourceName;
  }
}

export interface CreatedTable {
  readonly tableName: string;
  readonly tableArn: string;
  /** The stream the local stream runner reads; absent when the declaration has no stream. */
  readonly streamArn: string | undefined;
}

export interface CreatedQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly deadLetterName: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

const FIFO_SUFFIX = '.fifo';
// AWS's maximum: a message that reached the DLQ should stay there long enough for someone to look at it.
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 60 * 60;
const TABLE_ACTIVE_TIMEOUT_MS = 10_000;
const TABLE_ACTIVE_POLL_MS = 50;

/**
 * The physical name of a declared queue. Declarations may omit `.fifo`, since `fifo: true` already says it,
 * but SQS requires the suffix on every FIFO queue, so it is appended when missing. Locally the physical name
 * is otherwise the declared name.
 */
export function queuePhysicalName(queue: QueueDeclaration): string {
  return queue.fifo ? `${baseQueueName(queue)}${FIFO_SUFFIX}` : queue.name;
}

/** The name of a declared queue's dead-letter queue: `<name>-dlq`, keeping `.fifo` last (`orders-dlq.fifo`). */
export function deadLetterQueueName(queue: QueueDeclaration): string {
  return queue.fifo ? `${baseQueueName(queue)}-dlq${FIFO_SUFFIX}` : `${queue.name}-dlq`;
}

function baseQueueName(queue: QueueDeclaration): string {
  return queue.name.endsWith(FIFO_SUFFIX) ? queue.name.slice(0, -FIFO_SUFFIX.length) : queue.name;
}

/**
 * Creates the declared tables through the real DynamoDB API: `PK`/`SK`-style string keys as declared,
 * on-demand billing, the declared stream, GSIs with the declared projection, and TTL on the declared attribute.
 *
 * Idempotent, because a persisted local database already holds last run's tables: an existing table gains a
 * missing stream, index or TTL setting; a difference that DynamoDB cannot change in place (keys, stream view
 * type, index keys) fails with {@link ResourceDeclarationConflictError} rather than running on a stale shape.
 * TTL is only a setting locally: DynamoDB Local never deletes expired items.
 *
 * @returns the created or existing tables, by declared name
 */
export async function createTables(
  client: DynamoDBClient,
  tables: readonly TableDeclaration[],
): Promise<Record<string, CreatedTable>> {
  const created: Record<string, CreatedTable> = {};
  for (const table of tables) {
    created[table.name] = await ensureTable(client, table);
  }
  return created;
}

async function ensureTable(client: DynamoDBClient, table: TableDeclaration): Promise<CreatedTable> {
  let description = await describeTable(client, table.name);
  if (description === undefined) {
    try {
      await client.send(new CreateTableCommand(createTableInput(table)));
    } catch (error) {
      // Another process created it between our describe and create; converge on what is there.
      if (!(error instanceof ResourceInUseException)) {
        throw error;
      }
    }
    description = await waitUntilActive(client, table.name);
  }
  description = await convergeTable(client, table, description);
  await ensureTimeToLive(client, table);

  if (description.TableArn === undefined) {
    throw new LocalServerError('TABLE_NOT_READY', `${table.name} has no ARN`);
  }
  return {
    tableName: table.name,
    tableArn: description.TableArn,
    streamArn: table.stream === undefined ? undefined : description.LatestStreamArn,
  };
}

function createTableInput(table: TableDeclaration): ConstructorParameters<typeof CreateTableCommand>[0] {
  const indexes = table.indexes ?? [];
  return {
    TableName: table.name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributeDefinitions(table, indexes),
    KeySchema: [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      { AttributeName: table.sortKey, KeyType: 'RANGE' },
    ],
    ...(table.stream === undefined
      ? {}
      : { StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream } }),
    ...(indexes.length === 0 ? {} : { GlobalSecondaryIndexes: indexes.map(globalSecondaryIndex) }),
  };
}

function attributeDefinitions(
  table: TableDeclaration,
  indexes: readonly TableIndexDeclaration[],
): AttributeDefinition[] {
  const names = new Set([
    table.partitionKey,
    table.sortKey,
    ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  return [...names].map((name) => ({ AttributeName: name, AttributeType: 'S' }));
}

function globalSecondaryIndex(index: TableIndexDeclaration): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' },
      { AttributeName: index.sortKey, KeyType: 'RANGE' },
    ],
    Projection: projectionOf(index),
  };
}

function projectionOf(index: TableIndexDeclaration): Projection {
  return index.projectedAttributes.length === 0
    ? { ProjectionType: 'KEYS_ONLY' }
    : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] };
}

function sameProjection(present: Projection | undefined, declared: Projection): boolean {
  const attributes = (projection: Projection | undefined) => [...(projection?.NonKeyAttributes ?? [])].sort();
  return (
    present?.ProjectionType === declared.ProjectionType &&
    attributes(present).join(',') === attributes(declared).join(',')
  );
}

async function convergeTable(
  client: DynamoDBClient,
  table: TableDeclaration,
  existing: TableDescription,
): Promise<TableDescription> {
  const keys = keyNames(existing.KeySchema);
  if (keys.hash !== table.partitionKey || keys.range !== table.sortKey) {
    throw new ResourceDeclarationConflictError(
      table.name,
      `keys ${String(keys.hash)}/${String(keys.range)}, declared ${table.partitionKey}/${table.sortKey}`,
    );
  }

  let description = existing;
  const stream = description.StreamSpecification;
  if (table.stream !== undefined && stream?.StreamEnabled !== true) {
    await client.send(
      new UpdateTableCommand({
        TableName: table.name,
        StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream },
      }),
    );
    description = await waitUntilActive(client, table.name);
  } else if (
    table.stream !== undefined &&
    stream?.StreamEnabled === true &&
    stream.StreamViewType !== table.stream
  ) {
    throw new ResourceDeclarationConflictError(
      table.name,
      `stream view type ${String(stream.StreamViewType)}, declared ${table.stream}`,
    );
  }

  for (const index of table.indexes ?? []) {
    const present = description.GlobalSecondaryIndexes?.find(
      (candidate) => candidate.IndexName === index.name,
    );
    if (present === undefined) {
      await client.send(
        new UpdateTableCommand({
          TableName: table.name,
          AttributeDefinitions: attributeDefinitions(table, [index]),
          GlobalSecondaryIndexUpdates: [{ Create: globalSecondaryIndex(index) }],
        }),
      );
      description = await waitUntilActive(client, table.name);
      continue;
    }
    const indexKeys = keyNames(present.KeySchema);
    if (indexKeys.hash !== index.partitionKey || indexKeys.range !== index.sortKey) {
      throw new ResourceDeclarationConflictError(
        `${table.name}/${index.name}`,
        `index keys ${String(indexKeys.hash)}/${String(indexKeys.range)}, declared ${index.partitionKey}/${index.sortKey}`,
      );
    }
    const declared = projectionOf(index);
    if (!sameProjection(present.Projection, declared)) {
      throw new ResourceDeclarationConflictError(
        `${table.name}/${index.name}`,
        `index projection ${JSON.stringify(present.Projection)}, declared ${JSON.stringify(declared)}`,
      );
    }
  }
  return description;
}

async function ensureTimeToLive(client: DynamoDBClient, table: TableDeclaration): Promise<void> {
  if (table.ttlAttribute === undefined) {
    return;
  }
  const current = await client.send(new DescribeTimeToLiveCommand({ TableName: table.name }));
  const ttl = current.TimeToLiveDescription;
  const enabled = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
  if (enabled && ttl?.AttributeName === table.ttlAttribute) {
    return;
  }
  if (enabled) {
    throw new ResourceDeclarationConflictError(
      table.name,
      `TTL on ${String(ttl?.AttributeName)}, declared ${table.ttlAttribute}`,
    );
  }
  // Enabling twice is a ValidationException, hence the describe above.
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: table.name,
      TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
    }),
  );
}

async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    const result = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return result.Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) {
      return undefined;
    }
    throw error;
  }
}

/** DynamoDB Local answers ACTIVE at once; AWS (and `-delayTransientStatuses`) pass through CREATING/UPDATING. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    const description = await describeTable(client, tableName);
    const indexesActive = (description?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === undefined || index.IndexStatus === 'ACTIVE',
    );
    if (description?.TableStatus === 'ACTIVE' && indexesActive) {
      return description;
    }
    if (Date.now() >= deadline) {
      throw new LocalServerError(
        'TABLE_NOT_READY',
        `${tableName} is ${String(description?.TableStatus)} after ${TABLE_ACTIVE_TIMEOUT_MS} ms`,
      );
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, TABLE_ACTIVE_POLL_MS));
  }
}

function keyNames(schema: TableDescription['KeySchema']): { hash?: string; range?: string } {
  return {
    hash: schema?.find((key) => key.KeyType === 'HASH')?.AttributeName,
    range: schema?.find((key) => key.KeyType === 'RANGE')?.AttributeName,
  };
}

/**
 * Creates each declared queue and its dead-letter queue through the real SQS API: the DLQ first (same type,
 * `<name>-dlq`, 14-day retention), then the queue with its visibility timeout, FIFO settings and a
 * RedrivePolicy that moves a message to the DLQ after `maxReceiveCount` receives.
 *
 * Idempotent and converging: an existing queue gets the declared mutable attributes (SQS's CreateQueue would
 * instead reject any attribute that differs); a queue whose FIFO-ness differs cannot be fixed in place and
 * fails with {@link ResourceDeclarationConflictError}.
 *
 * Returned URLs point at the client's endpoint (its `endpoint` option, else `AWS_ENDPOINT_URL_SQS` /
 * `AWS_ENDPOINT_URL`): emulators such as fauxqs name hosts like `sqs.<region>.localhost` that do not resolve
 * everywhere, and the SDK sends requests to a queue URL's own host when the endpoint comes from the environment.
 *
 * @returns the queues, by declared name
 */
export async function createQueues(
  client: SQSClient,
  queues: readonly QueueDeclaration[],
): Promise<Record<string, CreatedQueue>> {
  const origin = await sqsEndpointOrigin(client);
  const created: Record<string, CreatedQueue> = {};
  for (const queue of queues) {
    const fifoAttributes: Record<string, string> = queue.fifo
      ? {
          FifoQueue: 'true',
          ContentBasedDeduplication: String(queue.contentBasedDeduplication ?? false),
          ...HIGH_THROUGHPUT_FIFO,
        }
      : {};
    const deadLetterName = deadLetterQueueName(queue);
    const deadLetter = await ensureQueue(client, origin, deadLetterName, queue.fifo, {
      ...fifoAttributes,
      MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS),
    });
    const name = queuePhysicalName(queue);
    const main = await ensureQueue(client, origin, name, queue.fifo, {
      ...fifoAttributes,
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: deadLetter.arn,
        maxReceiveCount: queue.maxReceiveCount,
      }),
    });
    created[queue.name] = {
      name,
      url: main.url,
      arn: main.arn,
      deadLetterName,
      deadLetterUrl: deadLetter.url,
      deadLetterArn: deadLetter.arn,
    };
  }
  return created;
}

/**
 * A standard queue that only collects what something else could not deliver (a timer group's or a stream
 * trigger's failures), kept 14 days like every dead-letter queue; idempotent like {@link createQueues}.
 */
export async function createDeadLetterQueue(
  client: SQSClient,
  name: string,
): Promise<{ readonly url: string; readonly arn: string }> {
  return await ensureQueue(client, await sqsEndpointOrigin(client), name, false, {
    MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS),
  });
}

async function ensureQueue(
  client: SQSClient,
  origin: string | undefined,
  name: string,
  fifo: boolean,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  let url = await queueUrl(client, name);
  if (url === undefined) {
    const result = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (result.QueueUrl === undefined) {
      throw new ResourceDeclarationConflictError(name, 'CreateQueue returned no URL');
    }
    url = result.QueueUrl;
  } else {
    const current = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['FifoQueue'] }),
    );
    const isFifo = current.Attributes?.FifoQueue === 'true';
    if (isFifo !== fifo) {
      throw new ResourceDeclarationConflictError(
        name,
        `FifoQueue ${String(isFifo)}, declared ${String(fifo)}`,
      );
    }
    // fauxqs takes the high-throughput attributes only at creation (its SetQueueAttributes refuses them), and they
    // change nothing here: it deduplicates per queue, which for event ids that each belong to one order drops
    // exactly what deduplicating per message group does.
    const {
      FifoQueue: _immutable,
      DeduplicationScope: _scope,
      FifoThroughputLimit: _limit,
      ...mutable
    } = attributes;
    await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: mutable }));
  }
  const localUrl = rebaseQueueUrl(url, origin);
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: localUrl, AttributeNames: ['QueueArn'] }),
  );
  if (Attributes?.QueueArn === undefined) {
    throw new ResourceDeclarationConflictError(name, 'GetQueueAttributes returned no QueueArn');
  }
  return { url: localUrl, arn: Attributes.QueueArn };
}

async function queueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    const result = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    return result.QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) {
      return undefined;
    }
    throw error;
  }
}

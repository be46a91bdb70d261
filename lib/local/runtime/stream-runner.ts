import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as SdkStreamRecord,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type {
  DynamoDBRecord,
  DynamoDBStreamEvent,
  AttributeValue as LambdaAttributeValue,
  StreamRecord,
} from 'aws-lambda';
import { LocalServerError } from '../http';
import type { FunctionInvoker } from '../invoker';
import {
  Backoff,
  consoleRunnerLogger,
  errorMessage,
  OutageLog,
  type RunnerLogger,
  sleep,
} from './runner-support';
import { parseBatchItemFailures } from './sqs-runner';

/** The table has no stream, so there is nothing to run a function on. */
export class StreamNotEnabledError extends LocalServerError {
  public override readonly name = 'StreamNotEnabledError';

  public constructor(tableName: string) {
    super(
      'STREAM_NOT_ENABLED',
      `table ${tableName} has no stream enabled; declare \`stream\` on it in lib/model.ts`,
    );
  }
}

type Credentials = NonNullable<DynamoDBClientConfig['credentials']>;

/** How to reach the DynamoDB (and DynamoDB Streams) endpoint; the runner builds and owns its own clients. */
export interface StreamConnection {
  readonly endpoint: string;
  readonly region: string;
  /** Any value works against DynamoDB Local started with `-sharedDb`. Default: fixed local credentials. */
  readonly credentials?: Credentials;
}

export interface StreamRunnerOptions {
  readonly connection: StreamConnection;
  readonly tableName: string;
  readonly functionName: string;
  /** Records per invocation, 1–10 000 (at most 1 000 per read, DynamoDB Streams' own limit). */
  readonly batchSize: number;
  /** Where to begin on the shards that exist at start; shards that appear later are read from their start. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Retries of a failed batch before it is handed to `onFailure` and skipped; -1 retries forever, as in Lambda. */
  readonly maxRetryAttempts: number;
  /** On a function error, split the batch in two and retry each half; splitting uses up no retries. */
  readonly bisectBatchOnError: boolean;
  /** Honour `{ batchItemFailures: [{ itemIdentifier: <SequenceNumber> }] }`: resume from the first one listed. */
  readonly reportBatchItemFailures: boolean;
  readonly invoker: FunctionInvoker;
  /** Lambda's on-failure destination: receives the metadata of each batch that exhausted its retries. */
  readonly onFailure?: (failure: StreamBatchFailure) => Promise<void>;
  /** Pause between reads when a pass found nothing new. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** Pause before a failed batch is retried. Default 100 ms. */
  readonly retryDelayMs?: number;
  /**
   * How often the shard list is read again while every known shard is still open. A shard read to its end
   * (and a stream with no readable shard) has it read at once, so this only bounds how long a shard that
   * appears out of turn goes unseen. Default 5 s.
   */
  readonly shardRefreshIntervalMs?: number;
  /** Used only to build the function ARN in failure records. Default `000000000000`. */
  readonly accountId?: string;
  readonly logger?: RunnerLogger;
}

/** The record Lambda sends to a stream event source mapping's on-failure destination. */
export interface StreamBatchFailure {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** `Unhandled` when the function threw; absent when it returned a partial batch failure. */
    readonly functionError?: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

export interface StreamRunner {
  readonly streamArn: string;
  /** Stops reading and resolves once the in-flight invocation has settled; pending retries are abandoned. */
  stop(): Promise<void>;
}

interface ShardState {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
  /** Where to begin when there is no checkpoint yet. */
  readonly initialPosition: ShardIteratorType;
  iterator: string | undefined;
  /** The last record handed to the function (or to onFailure): the checkpoint. */
  checkpoint: string | undefined;
  /** Closed and read to its end; its children may start. */
  done: boolean;
}

type AttemptOutcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly firstFailed: number }
  | { readonly kind: 'error'; readonly reason: string };

const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_RETRY_DELAY_MS = 100;
const DEFAULT_SHARD_REFRESH_INTERVAL_MS = 5_000;
const MAX_RECORDS_PER_READ = 1_000;
const LOCAL_CREDENTIALS: Credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What one running runner works with; `shards` and `shardsRefreshedAtMs` change as it reads. */
interface Runner {
  readonly options: StreamRunnerOptions;
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly logger: RunnerLogger;
  readonly pollIntervalMs: number;
  readonly retryDelayMs: number;
  readonly shardRefreshIntervalMs: number;
  readonly signal: AbortSignal;
  readonly shards: Map<string, ShardState>;
  /** When the shard list was last read; undefined when it must be read before the next pass. */
  shardsRefreshedAtMs: number | undefined;
}

/** The table's stream and its shards, with `LATEST` positions fixed now so writes right after start are kept. */
async function openShards(
  dynamodb: DynamoDBClient,
  streams: DynamoDBStreamsClient,
  options: StreamRunnerOptions,
): Promise<{ readonly streamArn: string; readonly shards: Map<string, ShardState> }> {
  const streamArn = await latestStreamArn(dynamodb, options.tableName);
  const shards = new Map<string, ShardState>();
  for (const shard of await describeShards(streams, streamArn)) {
    const state = newShardState(shard, options.startingPosition);
    if (options.startingPosition === 'LATEST') {
      // Fixed now rather than on the first read, so writes made right after start are not skipped.
      state.done = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      if (!state.done) {
        state.iterator = await shardIterator(streams, streamArn, state);
      }
    }
    shards.set(state.shardId, state);
  }
  return { streamArn, shards };
}

async function attempt(runner: Runner, records: readonly SdkStreamRecord[]): Promise<AttemptOutcome> {
  const { options } = runner;
  const event: DynamoDBStreamEvent = {
    Records: records.map((record) => toLambdaRecord(record, runner.streamArn, options.connection.region)),
  };
  let result: unknown;
  try {
    result = await options.invoker.invoke(options.functionName, event);
  } catch (error) {
    return { kind: 'error', reason: errorMessage(error) };
  }
  if (!options.reportBatchItemFailures) {
    return { kind: 'success' };
  }
  const sequenceNumbers = records.map((record) => record.dynamodb?.SequenceNumber);
  const parsed = parseBatchItemFailures(result, new Set(sequenceNumbers));
  if (parsed.kind === 'invalid') {
    return { kind: 'error', reason: `invalid batch response: ${parsed.reason}` };
  }
  if (parsed.failed.size === 0) {
    return { kind: 'success' };
  }
  // Lambda checkpoints at the lowest reported sequence number, i.e. the earliest of them in the shard.
  const firstFailed = sequenceNumbers.findIndex(
    (sequenceNumber) => sequenceNumber !== undefined && parsed.failed.has(sequenceNumber),
  );
  return { kind: 'partial', firstFailed };
}

function batchFailure(
  runner: Runner,
  shardId: string,
  records: readonly SdkStreamRecord[],
  invokeCount: number,
  outcome: AttemptOutcome,
): StreamBatchFailure {
  const first = records[0]?.dynamodb;
  const last = records.at(-1)?.dynamodb;
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: runner.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: invokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(outcome.kind === 'error' ? { functionError: 'Unhandled' } : {}),
    },
    version: '1.0',
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId,
      startSequenceNumber: first?.SequenceNumber ?? '',
      endSequenceNumber: last?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: (first?.ApproximateCreationDateTime ?? new Date()).toISOString(),
      approximateArrivalOfLastRecord: (last?.ApproximateCreationDateTime ?? new Date()).toISOString(),
      batchSize: records.length,
      streamArn: runner.streamArn,
    },
  };
}

/** Hands a batch that exhausted its retries to the on-failure destination; the batch is skipped either way. */
async function discard(
  runner: Runner,
  shardId: string,
  records: readonly SdkStreamRecord[],
  invokeCount: number,
  outcome: AttemptOutcome,
): Promise<void> {
  const { options, logger } = runner;
  const failure = batchFailure(runner, shardId, records, invokeCount, outcome);
  logger.warn(
    `stream runner: ${options.functionName} gave up on ${records.length} record(s) of ${options.tableName} after ${invokeCount} attempt(s)`,
    { shardId, startSequenceNumber: failure.DDBStreamBatchInfo.startSequenceNumber },
  );
  if (options.onFailure === undefined) {
    return;
  }
  try {
    await options.onFailure(failure);
  } catch (error) {
    logger.warn('stream runner: the on-failure destination failed; the batch is skipped anyway', {
      error: errorMessage(error),
    });
  }
}

/** Runs one batch to completion: success, or retries exhausted and handed to onFailure. */
async function processBatch(
  runner: Runner,
  shardId: string,
  records: readonly SdkStreamRecord[],
): Promise<void> {
  const { options, logger } = runner;
  const pending: { records: readonly SdkStreamRecord[]; retries: number }[] = [{ records, retries: 0 }];
  for (let item = pending.shift(); item !== undefined; item = pending.shift()) {
    if (runner.signal.aborted) {
      return;
    }
    const outcome = await attempt(runner, item.records);
    if (outcome.kind === 'success') {
      continue;
    }
    const remaining = outcome.kind === 'partial' ? item.records.slice(outcome.firstFailed) : item.records;
    if (outcome.kind === 'error') {
      logger.warn(`stream runner: ${options.functionName} failed on ${item.records.length} record(s)`, {
        error: outcome.reason,
        attempt: item.retries + 1,
      });
    }
    if (outcome.kind === 'error' && options.bisectBatchOnError && remaining.length > 1) {
      const middle = Math.ceil(remaining.length / 2);
      pending.unshift(
        { records: remaining.slice(0, middle), retries: item.retries },
        { records: remaining.slice(middle), retries: item.retries },
      );
      continue;
    }
    if (options.maxRetryAttempts >= 0 && item.retries >= options.maxRetryAttempts) {
      await discard(runner, shardId, remaining, item.retries + 1, outcome);
      continue;
    }
    await sleep(runner.retryDelayMs, runner.signal);
    pending.unshift({ records: remaining, retries: item.retries + 1 });
  }
}

/** One read of a shard, or undefined after an iterator that expired or lost its records was replaced. */
async function readPage(
  runner: Runner,
  shard: ShardState,
  iterator: string,
): Promise<Awaited<ReturnType<typeof getRecords>> | undefined> {
  const { options, streams } = runner;
  try {
    return await getRecords(streams, iterator, Math.min(options.batchSize, MAX_RECORDS_PER_READ));
  } catch (error) {
    if (error instanceof ExpiredIteratorException) {
      // Iterators live 15 minutes; a fresh one from the checkpoint loses nothing.
      shard.iterator = undefined;
      return undefined;
    }
    if (error instanceof TrimmedDataAccessException) {
      runner.logger.warn(
        `stream runner: records of ${options.tableName} expired before ${options.functionName} read them`,
      );
      shard.checkpoint = undefined;
      shard.iterator = await shardIterator(streams, runner.streamArn, {
        ...shard,
        initialPosition: 'TRIM_HORIZON',
      });
      return undefined;
    }
    throw error;
  }
}

/** Reads and processes one batch of a shard; true when it found records, so the loop need not pause. */
async function readShard(runner: Runner, shard: ShardState): Promise<boolean> {
  shard.iterator ??= await shardIterator(runner.streams, runner.streamArn, shard);
  const page = await readPage(runner, shard, shard.iterator);
  if (page === undefined) return true;
  if (page.records.length > 0) {
    await processBatch(runner, shard.shardId, page.records);
    if (runner.signal.aborted) {
      // Not checkpointed: an abandoned retry is read again by the next runner, as Lambda would.
      return false;
    }
    shard.checkpoint = page.records.at(-1)?.dynamodb?.SequenceNumber ?? shard.checkpoint;
  }
  shard.iterator = page.nextIterator;
  if (page.nextIterator === undefined) {
    shard.done = true;
    // Its children may be waiting to be read.
    runner.shardsRefreshedAtMs = undefined;
  }
  return page.records.length > 0;
}

/**
 * Lambda's event source mapping does not describe the stream before every read, and neither do we: on a
 * busy table that would be one DescribeStream per GetRecords, load on DynamoDB Local that AWS never sees.
 */
async function refreshShards(runner: Runner): Promise<void> {
  const now = Date.now();
  const { shards, shardsRefreshedAtMs } = runner;
  const readable = [...shards.values()].some((shard) => !shard.done);
  if (
    readable &&
    shardsRefreshedAtMs !== undefined &&
    now - shardsRefreshedAtMs < runner.shardRefreshIntervalMs
  ) {
    return;
  }
  for (const shard of await describeShards(runner.streams, runner.streamArn)) {
    if (shard.ShardId !== undefined && !shards.has(shard.ShardId)) {
      shards.set(shard.ShardId, newShardState(shard, 'TRIM_HORIZON'));
    }
  }
  runner.shardsRefreshedAtMs = now;
}

/** One pass over the readable shards, each child only once its parent is read to the end. */
async function readShards(runner: Runner): Promise<boolean> {
  let progressed = false;
  await refreshShards(runner);
  for (const shard of runner.shards.values()) {
    if (runner.signal.aborted) {
      return progressed;
    }
    const parent = shard.parentShardId === undefined ? undefined : runner.shards.get(shard.parentShardId);
    if (shard.done || (parent !== undefined && !parent.done)) {
      continue;
    }
    progressed = (await readShard(runner, shard)) || progressed;
  }
  return progressed;
}

/** Reads until stopped, backing off while reading fails; never rejects. */
async function run(runner: Runner): Promise<void> {
  const { options, signal } = runner;
  const outage = new OutageLog(
    runner.logger,
    `stream runner for ${options.functionName}: reading ${options.tableName}`,
  );
  const backoff = new Backoff();
  while (!signal.aborted) {
    let progressed: boolean;
    try {
      progressed = await readShards(runner);
      if (signal.aborted) {
        return;
      }
      outage.recovered();
      backoff.reset();
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      outage.failed(error);
      await backoff.wait(signal);
      continue;
    }
    if (!progressed) {
      await sleep(runner.pollIntervalMs, signal);
    }
  }
}

/**
 * The local counterpart of Lambda's DynamoDB stream event source mapping, reading DynamoDB Local's streams API.
 *
 * Every shard is read, a child only after its parent is read to the end, so records of one item stay in order
 * across shard rollovers. Each batch becomes a real `DynamoDBStreamEvent`. A failed batch is retried up to
 * `maxRetryAttempts` times (split in halves first when `bisectBatchOnError`; resumed from the first reported
 * failure when `reportBatchItemFailures`), then described to `onFailure` and skipped, so one poison record
 * cannot stall the table forever.
 *
 * Resolves once the starting positions are fixed, so with `LATEST` every write made after this resolves is
 * delivered. Checkpoints live in memory: after a restart, `TRIM_HORIZON` replays what the stream still holds,
 * which idempotent consumers absorb.
 */
export async function startStreamRunner(options: StreamRunnerOptions): Promise<StreamRunner> {
  validate(options);
  const clientConfig = {
    endpoint: options.connection.endpoint,
    region: options.connection.region,
    credentials: options.connection.credentials ?? LOCAL_CREDENTIALS,
  };
  const dynamodb = new DynamoDBClient(clientConfig);
  const streams = new DynamoDBStreamsClient(clientConfig);
  let opened: Awaited<ReturnType<typeof openShards>>;
  try {
    opened = await openShards(dynamodb, streams, options);
  } catch (error) {
    dynamodb.destroy();
    streams.destroy();
    throw error;
  }
  const stopController = new AbortController();
  const runner: Runner = {
    options,
    streams,
    streamArn: opened.streamArn,
    functionArn: `arn:aws:lambda:${options.connection.region}:${options.accountId ?? '000000000000'}:function:${options.functionName}`,
    logger: options.logger ?? consoleRunnerLogger,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    shardRefreshIntervalMs: options.shardRefreshIntervalMs ?? DEFAULT_SHARD_REFRESH_INTERVAL_MS,
    signal: stopController.signal,
    shards: opened.shards,
    shardsRefreshedAtMs: Date.now(),
  };
  // Never rejects: run() catches everything, so a failing runner cannot crash the process.
  const loop = run(runner);
  let stopped: Promise<void> | undefined;
  return {
    streamArn: runner.streamArn,
    stop: () => {
      stopped ??= (async () => {
        stopController.abort();
        await loop;
        dynamodb.destroy();
        streams.destroy();
      })();
      return stopped;
    },
  };
}

/** Refuses, at start rather than on the first record, a value Lambda would reject. */
function validate(options: StreamRunnerOptions): void {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 10_000) {
    throw new LocalServerError(
      'INVALID_RUNNER_OPTION',
      `batchSize for ${options.functionName} must be an integer from 1 to 10000, got ${options.batchSize}`,
    );
  }
  if (!Number.isInteger(options.maxRetryAttempts) || options.maxRetryAttempts < -1) {
    throw new LocalServerError(
      'INVALID_RUNNER_OPTION',
      `maxRetryAttempts for ${options.functionName} must be -1 (forever) or a non-negative integer, got ${options.maxRetryAttempts}`,
    );
  }
}

function newShardState(shard: Shard, initialPosition: ShardIteratorType): ShardState {
  return {
    shardId: shard.ShardId ?? '',
    parentShardId: shard.ParentShardId,
    initialPosition,
    iterator: undefined,
    checkpoint: undefined,
    done: false,
  };
}

async function latestStreamArn(client: DynamoDBClient, tableName: string): Promise<string> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (Table?.StreamSpecification?.StreamEnabled !== true || Table.LatestStreamArn === undefined) {
    throw new StreamNotEnabledError(tableName);
  }
  return Table.LatestStreamArn;
}

async function describeShards(client: DynamoDBStreamsClient, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const { StreamDescription } = await client.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    shards.push(...(StreamDescription?.Shards ?? []));
    exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);
  return shards;
}

async function shardIterator(
  client: DynamoDBStreamsClient,
  streamArn: string,
  shard: Pick<ShardState, 'shardId' | 'checkpoint' | 'initialPosition'>,
): Promise<string> {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamArn: streamArn,
      ShardId: shard.shardId,
      ...(shard.checkpoint === undefined
        ? { ShardIteratorType: shard.initialPosition }
        : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.checkpoint }),
    }),
  );
  if (ShardIterator === undefined) {
    // The read is retried on the next pass.
    throw new LocalServerError(
      'STREAM_ITERATOR_UNAVAILABLE',
      `no iterator for shard ${shard.shardId} of ${streamArn}`,
    );
  }
  return ShardIterator;
}

async function getRecords(
  client: DynamoDBStreamsClient,
  iterator: string,
  limit: number,
): Promise<{ records: SdkStreamRecord[]; nextIterator: string | undefined }> {
  const result = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
  return { records: result.Records ?? [], nextIterator: result.NextShardIterator };
}

/** Lambda's JSON: creation time in epoch seconds, binary values in base64, region and ARN of the mapping. */
function toLambdaRecord(record: SdkStreamRecord, streamArn: string, awsRegion: string): DynamoDBRecord {
  const source = record.dynamodb;
  const dynamodb: StreamRecord = {
    ...(source?.ApproximateCreationDateTime === undefined
      ? {}
      : { ApproximateCreationDateTime: Math.floor(source.ApproximateCreationDateTime.getTime() / 1000) }),
    ...(source?.Keys === undefined ? {} : { Keys: toLambdaItem(source.Keys) }),
    ...(source?.NewImage === undefined ? {} : { NewImage: toLambdaItem(source.NewImage) }),
    ...(source?.OldImage === undefined ? {} : { OldImage: toLambdaItem(source.OldImage) }),
    ...(source?.SequenceNumber === undefined ? {} : { SequenceNumber: source.SequenceNumber }),
    ...(source?.SizeBytes === undefined ? {} : { SizeBytes: source.SizeBytes }),
    ...(source?.StreamViewType === undefined ? {} : { StreamViewType: source.StreamViewType }),
  };
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion,
    dynamodb,
    eventSourceARN: streamArn,
    ...(record.userIdentity === undefined ? {} : { userIdentity: { ...record.userIdentity } }),
  };
}

function toLambdaItem(item: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> {
  const converted: Record<string, LambdaAttributeValue> = {};
  for (const [name, value] of Object.entries(item)) {
    converted[name] = toLambdaValue(value);
  }
  return converted;
}

function toLambdaValue(value: AttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString('base64')) };
  if (value.M !== undefined) return { M: toLambdaItem(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  // DynamoDB Local's stream writes an empty map as `{}` with no type, where DynamoDB Streams send `{"M":{}}`.
  if (value.$unknown === undefined) return { M: {} };
  // A type newer than this SDK: pass it through rather than lose the attribute.
  return { [value.$unknown[0]]: value.$unknown[1] } as LambdaAttributeValue;
}

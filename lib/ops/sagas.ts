import {
  ExecutionDoesNotExist,
  type ExecutionListItem,
  ExecutionNotRedrivable,
  type ExecutionStatus,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { takeOption } from './options';

/**
 * `sagas list [--status S] | stuck [--older-than N] | redrive <executionName|all-failed>`: find saga executions
 * that stopped short of their end and restart them, the same code against AWS and against the local endpoint.
 *
 * Redrive is Step Functions' `RedriveExecution`: the execution continues, under its own ARN and with its own
 * input, from the state that failed (locally: from the start, see `lib/local/aws/step-functions/`). That is safe
 * for the fulfillment saga because every participant is idempotent through its ledger. Only executions of a STANDARD
 * state machine can be redriven, within 14 days of their stop.
 */

export interface SagasCommandContext {
  readonly sfn: SFNClient;
  /** The state machine whose executions the commands look at, e.g. the stack output `FulfillmentStateMachineArn`. */
  readonly stateMachineArn: string;
  /** Receives every line of human-readable output. */
  readonly out: (line: string) => void;
  /** The clock `stuck` measures ages with. Default: the system clock. */
  readonly now?: () => Date;
}

/** One execution as the commands print it. */
export interface SagaExecution {
  readonly name: string;
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date | undefined;
  readonly stopDate: Date | undefined;
  readonly redriveCount: number;
  readonly redriveDate: Date | undefined;
}

/** What happened to one execution that `redrive` tried. */
export type RedriveOutcome =
  | { readonly name: string; readonly outcome: 'redriven'; readonly redriveDate: Date | undefined }
  | { readonly name: string; readonly outcome: 'not-redrivable' | 'not-found'; readonly reason: string };

export type SagasCommandResult =
  | { readonly command: 'list'; readonly executions: readonly SagaExecution[] }
  | {
      readonly command: 'stuck';
      readonly olderThanSeconds: number;
      readonly executions: readonly SagaExecution[];
    }
  | { readonly command: 'redrive'; readonly outcomes: readonly RedriveOutcome[] };

/** Stable codes of the command's errors. */
export const SagasCommandErrorCode = {
  USAGE: 'SAGAS_USAGE',
} as const;

export type SagasCommandErrorCode = (typeof SagasCommandErrorCode)[keyof typeof SagasCommandErrorCode];

export abstract class SagasCommandError extends Error {
  public abstract readonly code: SagasCommandErrorCode;
}

export const SAGAS_USAGE =
  'usage: sagas list [--status STATUS] | sagas stuck [--older-than SECONDS] | ' +
  'sagas redrive <executionName|all-failed>';

export class SagasUsageError extends SagasCommandError {
  public override readonly name = 'SagasUsageError';
  public readonly code = SagasCommandErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${SAGAS_USAGE}`);
  }
}

/** `ListExecutions` filters that go with a state machine ARN (PENDING_REDRIVE needs a Map Run's ARN instead). */
const LISTABLE_STATUSES = [
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
] as const satisfies readonly ExecutionStatus[];
/** The unsuccessful ends, from which a saga does not move on by itself. */
const STOPPED_SHORT = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const satisfies readonly ExecutionStatus[];

/** Whether an execution ended short of success, so that `sagas redrive <name>` can take it on. */
export function stoppedShort(status: ExecutionStatus | undefined): boolean {
  return STOPPED_SHORT.some((stopped) => stopped === status);
}
/**
 * What `redrive all-failed` restarts. Not ABORTED: an abort is an operator's decision, which a bulk redrive must
 * not undo; redrive such an execution by its name.
 */
const FAILED = ['FAILED', 'TIMED_OUT'] as const satisfies readonly ExecutionStatus[];
/** The `redrive` argument that restarts every FAILED and TIMED_OUT execution instead of one. */
export const ALL_FAILED_SAGAS = 'all-failed';
/** Fifteen minutes: several times the longest saga step (timeouts and retries included) takes. */
const DEFAULT_OLDER_THAN_SECONDS = 900;
const PAGE_SIZE = 1000;

/**
 * Runs one `sagas` command and prints its result through `context.out`. `args` are the words after `sagas` (a
 * leading `sagas` is accepted too).
 *
 * - `list [--status S]`: every execution (of the status), newest first, with its start, stop and redrive count.
 * - `stuck [--older-than N]`: executions RUNNING for more than N seconds (default 900) since they started or were
 *   last redriven, and every FAILED, TIMED_OUT or ABORTED one.
 * - `redrive <name|all-failed>`: redrives the named execution, or every FAILED and TIMED_OUT one, and prints the
 *   outcome of each; an execution that cannot be redriven (it succeeded, is running, is too old, does not exist)
 *   is reported in the output and the result, not thrown, so one bad execution does not stop a bulk redrive.
 *
 * @throws {@link SagasUsageError} for bad arguments; SDK errors other than the per-execution ones above as they come
 */
export async function runSagasCommand(
  args: readonly string[],
  context: SagasCommandContext,
): Promise<SagasCommandResult> {
  const words = args[0] === 'sagas' ? args.slice(1) : [...args];
  const status = takeOption(words, '--status', usageError);
  const olderThan = takeOption(words, '--older-than', usageError);
  const [command, target, ...extra] = words;
  if (extra.length > 0) throw new SagasUsageError(`unexpected arguments: ${extra.join(' ')}`);
  switch (command) {
    case 'list':
      if (target !== undefined || olderThan !== undefined)
        throw new SagasUsageError('list takes only --status');
      return await list(context, status === undefined ? undefined : parseStatus(status));
    case 'stuck':
      if (target !== undefined || status !== undefined)
        throw new SagasUsageError('stuck takes only --older-than');
      return await stuck(
        context,
        olderThan === undefined ? DEFAULT_OLDER_THAN_SECONDS : parseSeconds(olderThan),
      );
    case 'redrive':
      if (status !== undefined || olderThan !== undefined)
        throw new SagasUsageError('redrive takes no options');
      if (target === undefined)
        throw new SagasUsageError(`redrive needs an execution name or ${ALL_FAILED_SAGAS}`);
      return await redrive(context, target);
    default:
      throw new SagasUsageError(command === undefined ? 'no command' : `unknown command ${command}`);
  }
}

/** The error an option without its value is refused with. */
const usageError = (problem: string): Error => new SagasUsageError(problem);

function parseStatus(value: string): ExecutionStatus {
  const status = LISTABLE_STATUSES.find((candidate) => candidate === value.toUpperCase());
  if (status === undefined)
    throw new SagasUsageError(`--status must be one of ${LISTABLE_STATUSES.join(', ')}`);
  return status;
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new SagasUsageError('--older-than needs a whole number of seconds');
  return Number(value);
}

async function list(
  context: SagasCommandContext,
  status: ExecutionStatus | undefined,
): Promise<SagasCommandResult> {
  const executions = await listExecutions(context, status);
  if (executions.length === 0)
    context.out(status === undefined ? 'no executions' : `no ${status} executions`);
  for (const execution of executions) context.out(formatExecution(execution));
  return { command: 'list', executions };
}

async function stuck(context: SagasCommandContext, olderThanSeconds: number): Promise<SagasCommandResult> {
  const now = (context.now ?? (() => new Date()))().getTime();
  // A redrive restarts the clock: a saga redriven a minute ago is not stuck, however old it is.
  const runningTooLong = (await listExecutions(context, 'RUNNING')).filter((execution) => {
    const since = execution.redriveDate ?? execution.startDate;
    return since !== undefined && now - since.getTime() > olderThanSeconds * 1000;
  });
  const stoppedShort: SagaExecution[] = [];
  for (const status of STOPPED_SHORT) stoppedShort.push(...(await listExecutions(context, status)));
  const executions = [...runningTooLong, ...stoppedShort];
  if (executions.length === 0)
    context.out(`no stuck executions (running over ${olderThanSeconds}s or stopped short)`);
  for (const execution of executions) context.out(formatExecution(execution));
  return { command: 'stuck', olderThanSeconds, executions };
}

async function redrive(context: SagasCommandContext, target: string): Promise<SagasCommandResult> {
  const targets =
    target === ALL_FAILED_SAGAS
      ? (await Promise.all(FAILED.map((status) => listExecutions(context, status)))).flat()
      : [{ name: target, executionArn: executionArnOf(context.stateMachineArn, target) }];
  if (targets.length === 0) context.out('no FAILED or TIMED_OUT executions to redrive');
  const outcomes: RedriveOutcome[] = [];
  for (const { name, executionArn } of targets) {
    const outcome = await redriveOne(context.sfn, name, executionArn);
    context.out(
      outcome.outcome === 'redriven'
        ? `${name}\tredriven\t${outcome.redriveDate?.toISOString() ?? '-'}`
        : `${name}\t${outcome.outcome}\t${outcome.reason}`,
    );
    outcomes.push(outcome);
  }
  if (targets.length > 1 || target === ALL_FAILED_SAGAS) {
    const redriven = outcomes.filter((outcome) => outcome.outcome === 'redriven').length;
    context.out(`redrove ${redriven} of ${outcomes.length} execution(s)`);
  }
  return { command: 'redrive', outcomes };
}

async function redriveOne(sfn: SFNClient, name: string, executionArn: string): Promise<RedriveOutcome> {
  try {
    // No clientToken of our own: the SDK generates one, so its retries of this call cannot redrive twice.
    const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
    return { name, outcome: 'redriven', redriveDate };
  } catch (error) {
    if (error instanceof ExecutionNotRedrivable)
      return { name, outcome: 'not-redrivable', reason: error.message };
    if (error instanceof ExecutionDoesNotExist) return { name, outcome: 'not-found', reason: error.message };
    throw error;
  }
}

/**
 * `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`, from the state machine's ARN; a full
 * execution ARN is taken as it is.
 */
export function executionArnOf(stateMachineArn: string, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${nameOrArn}`;
}

async function listExecutions(
  context: SagasCommandContext,
  statusFilter: ExecutionStatus | undefined,
): Promise<SagaExecution[]> {
  const executions: SagaExecution[] = [];
  let nextToken: string | undefined;
  do {
    const page = await context.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: context.stateMachineArn,
        maxResults: PAGE_SIZE,
        ...(statusFilter !== undefined && { statusFilter }),
        ...(nextToken !== undefined && { nextToken }),
      }),
    );
    executions.push(...(page.executions ?? []).map(toSagaExecution));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return executions;
}

function toSagaExecution(item: ExecutionListItem): SagaExecution {
  return {
    name: item.name ?? '',
    executionArn: item.executionArn ?? '',
    status: item.status ?? 'RUNNING',
    startDate: item.startDate,
    stopDate: item.stopDate,
    redriveCount: item.redriveCount ?? 0,
    redriveDate: item.redriveDate,
  };
}

function formatExecution(execution: SagaExecution): string {
  return [
    execution.name,
    execution.status,
    `started=${execution.startDate?.toISOString() ?? '-'}`,
    `stopped=${execution.stopDate?.toISOString() ?? '-'}`,
    `redrives=${execution.redriveCount}`,
  ].join('\t');
}

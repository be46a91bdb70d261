/**
 * `npm run ops -- <command>`: operate the system, locally or in AWS, with the same code.
 *
 *   npm run ops -- --local http://127.0.0.1:3000 dlq list
 *   npm run ops -- dlq show order-events.fifo                  (AWS: the default credential chain and region)
 *   npm run ops -- dlq redrive order-events.fifo [--max N]
 *   npm run ops -- sagas list [--status FAILED]
 *   npm run ops -- sagas stuck [--older-than 900]
 *   npm run ops -- sagas redrive <executionName|all-failed>    (AWS: --state-machine-arn <arn>)
 *   npm run ops -- order <orderId> [--json]                    (AWS: --table <name> --state-machine-arn <arn>)
 *
 * With `--local <url>` the endpoints, table names and ARNs come from the local system's `/_local/endpoints`;
 * without it the AWS SDK's own configuration applies, and names come from the stack outputs given as options.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { runDlqCommand } from '../lib/ops/dlq';
import { runOrderCommand } from '../lib/ops/order';
import { runSagasCommand } from '../lib/ops/sagas';

class UsageError extends Error {
  public override readonly name = 'UsageError';
  public readonly code = 'OPS_USAGE';
}

interface LocalEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
  readonly stepfunctions: string;
  readonly tableNames: Readonly<Record<string, string>>;
  readonly stateMachineArns: Readonly<Record<string, string>>;
}

const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};
const FULFILLMENT_STATE_MACHINE = 'fulfillment';
const ORDERS_TABLE = 'orders';
const USAGE =
  'usage: npm run ops -- [--local <url>] [--state-machine-arn <arn>] [--table <name>] ' +
  'dlq list|show|redrive <queue> | sagas list|stuck|redrive <name|all-failed> | order <orderId> [--json]';

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const value = args[index + 1];
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  args.splice(index, 2);
  return value;
}

async function localEndpoints(gatewayUrl: string): Promise<LocalEndpoints> {
  const response = await fetch(new URL('/_local/endpoints', gatewayUrl));
  if (!response.ok) {
    throw new UsageError(
      `${gatewayUrl} answered ${response.status} for /_local/endpoints: is \`npm start\` running?`,
    );
  }
  return (await response.json()) as LocalEndpoints;
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const local = takeOption(args, '--local');
  const stateMachineArnOption = takeOption(args, '--state-machine-arn');
  const tableOption = takeOption(args, '--table');
  const endpoints = local === undefined ? undefined : await localEndpoints(local);
  const clientConfig = (endpoint: string | undefined) =>
    endpoint === undefined ? {} : { ...LOCAL_CLIENT_CONFIG, endpoint };
  const out = (line: string) => console.log(line);
  const [area, ...rest] = args;
  if (area === 'dlq') {
    const sqs = new SQSClient(clientConfig(endpoints?.sqs));
    try {
      await runDlqCommand(rest, { sqs, out });
    } finally {
      sqs.destroy();
    }
    return;
  }
  if (area === 'sagas') {
    const stateMachineArn = stateMachineArnOption ?? endpoints?.stateMachineArns[FULFILLMENT_STATE_MACHINE];
    if (stateMachineArn === undefined) {
      throw new UsageError('sagas needs --state-machine-arn <arn> (the stack output) or --local <url>');
    }
    const sfn = new SFNClient(clientConfig(endpoints?.stepfunctions));
    try {
      await runSagasCommand(rest, { sfn, stateMachineArn, out });
    } finally {
      sfn.destroy();
    }
    return;
  }
  if (area === 'order') {
    const stateMachineArn = stateMachineArnOption ?? endpoints?.stateMachineArns[FULFILLMENT_STATE_MACHINE];
    const tableName = tableOption ?? endpoints?.tableNames[ORDERS_TABLE];
    if (stateMachineArn === undefined || tableName === undefined) {
      throw new UsageError(
        'order needs --table <name> and --state-machine-arn <arn> (the stack outputs OrdersTableName and ' +
          'FulfillmentStateMachineArn) or --local <url>',
      );
    }
    // The fix commands the story prints carry the options this run needed.
    const commandPrefix = [
      'npm run ops --',
      ...(local === undefined ? [] : ['--local', local]),
      ...(stateMachineArnOption === undefined ? [] : ['--state-machine-arn', stateMachineArnOption]),
    ].join(' ');
    const dynamodb = new DynamoDBClient(clientConfig(endpoints?.dynamodb));
    const sqs = new SQSClient(clientConfig(endpoints?.sqs));
    const sfn = new SFNClient(clientConfig(endpoints?.stepfunctions));
    try {
      await runOrderCommand(rest, { dynamodb, sqs, sfn, tableName, stateMachineArn, out, commandPrefix });
    } finally {
      dynamodb.destroy();
      sqs.destroy();
      sfn.destroy();
    }
    return;
  }
  throw new UsageError(USAGE);
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  // Usage mistakes (ours, or a command's `*_USAGE` errors) exit 2, as command-line tools conventionally do.
  const isUsage =
    error instanceof UsageError ||
    (error instanceof Error && 'code' in error && String(error.code).endsWith('_USAGE'));
  process.exitCode = isUsage ? 2 : 1;
}

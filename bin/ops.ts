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
 *   npm run ops -- orders list [--status S] [--customer C] [--limit N] [--json]   (AWS: --table <name>)
 *   npm run ops -- customers create <email>                    (AWS: --user-pool-id <id> --client-id <id>)
 *   npm run ops -- payments reconcile [--since 6h] [--json]    (AWS: --table <name> --stripe-secret-arn <arn>
 *                                                                    --timer-group <name>)
 *   npm run -s ops -- customers token <email> --password-stdin <<< "$PASSWORD"
 *   npm run ops -- --help | <area> --help
 *
 * With `--local <url>` the endpoints, table names and ARNs come from the local system's `/_local/endpoints`
 * (and the fake Stripe's test key from `/_local/secrets`); without it the AWS SDK's own configuration applies,
 * names come from the stack outputs given as options, and secrets are read with the operator's credentials.
 */

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { appModel } from '../lib/model';
import { CUSTOMERS_USAGE, runCustomersCommand } from '../lib/ops/customers';
import { DLQ_USAGE, runDlqCommand } from '../lib/ops/dlq';
import { ORDER_USAGE, runOrderCommand } from '../lib/ops/order';
import { ORDERS_USAGE, runOrdersCommand } from '../lib/ops/orders';
import {
  PAYMENTS_USAGE,
  reconcilingPaymentService,
  runPaymentsCommand,
  stripeProvider,
} from '../lib/ops/payments';
import { runSagasCommand, SAGAS_USAGE } from '../lib/ops/sagas';

class UsageError extends Error {
  public override readonly name = 'UsageError';
  public readonly code = 'OPS_USAGE';
}

interface LocalEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
  readonly stepfunctions: string;
  readonly scheduler: string;
  /** The fake Stripe's API base. */
  readonly stripe?: string;
  readonly cognito: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly tableNames: Readonly<Record<string, string>>;
  readonly stateMachineArns: Readonly<Record<string, string>>;
}

const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};
const FULFILLMENT_STATE_MACHINE = 'fulfillment';
const ORDERS_TABLE = 'orders';
/** The fake Stripe's test secret key in `/_local/secrets`. */
const LOCAL_STRIPE_SECRET_KEY = 'stripe-secret-key';
/** The function the payment timers fire: its timer's schedule group is the one the reconciliation cleans up. */
const PAYMENT_TIMEOUT_FUNCTION = 'payment-timeout';

/** Each area's own usage, and the options it needs in AWS (the stack outputs), which `--local` replaces. */
const AREAS = {
  dlq: { usage: DLQ_USAGE, aws: undefined },
  sagas: { usage: SAGAS_USAGE, aws: '--state-machine-arn <FulfillmentStateMachineArn>' },
  order: {
    usage: ORDER_USAGE,
    aws: '--table <OrdersTableName> --state-machine-arn <FulfillmentStateMachineArn>',
  },
  orders: { usage: ORDERS_USAGE, aws: '--table <OrdersTableName>' },
  customers: {
    usage: CUSTOMERS_USAGE,
    aws: '--user-pool-id <CustomerUserPoolId> --client-id <CustomerUserPoolClientId>',
  },
  payments: {
    usage: PAYMENTS_USAGE,
    aws:
      '--table <OrdersTableName> --stripe-secret-arn <PaymentProviderApiKeySecretArn> ' +
      '--timer-group <PaymentTimeoutsTimerGroupName>',
  },
} as const;
type Area = keyof typeof AREAS;

const OPTIONS_HELP = [
  '--local <url>  the local system at <url> (npm start): endpoints and names come from its /_local/endpoints.',
  "Without it: AWS, with the SDK's default credentials and region; the AWS options name stack outputs.",
];

function isArea(word: string | undefined): word is Area {
  return word !== undefined && Object.hasOwn(AREAS, word);
}

/** An area's usage line, without its `usage: ` prefix, and its AWS options below it. */
function areaLines(area: Area): string[] {
  const { usage, aws } = AREAS[area];
  return [usage.replace(/^usage: /, ''), ...(aws === undefined ? [] : [`    AWS options: ${aws}`])];
}

function areaHelp(area: Area): string {
  return [
    'usage: npm run ops -- [--local <url>] <command> [AWS options]',
    '',
    ...areaLines(area).map((line) => `  ${line}`),
    '',
    ...OPTIONS_HELP,
  ].join('\n');
}

function help(): string {
  return [
    'usage: npm run ops -- [--local <url>] <area> <command> [arguments] [AWS options]',
    '',
    ...Object.keys(AREAS)
      .flatMap((area) => (isArea(area) ? areaLines(area) : []))
      .map((line) => `  ${line}`),
    '',
    ...OPTIONS_HELP,
    "`npm run ops -- <area> --help` prints one area's usage.",
  ].join('\n');
}

const HELP_FLAGS = new Set(['--help', '-h']);

/** The help text asked for, if any: `--help`, `-h` or `help` alone or before an area, or after an area. */
function helpRequested(args: readonly string[]): string | undefined {
  const [first, second] = args;
  if (first !== undefined && (HELP_FLAGS.has(first) || first === 'help')) {
    return isArea(second) ? areaHelp(second) : help();
  }
  if (isArea(first) && args.some((word) => HELP_FLAGS.has(word))) return areaHelp(first);
  return undefined;
}

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const value = args[index + 1];
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  args.splice(index, 2);
  return value;
}

/** One of the local system's `/_local/` listings. */
async function localListing<T>(
  gatewayUrl: string,
  path: '/_local/endpoints' | '/_local/secrets',
): Promise<T> {
  const response = await fetch(new URL(path, gatewayUrl));
  if (!response.ok) {
    throw new UsageError(`${gatewayUrl} answered ${response.status} for ${path}: is \`npm start\` running?`);
  }
  return (await response.json()) as T;
}

/** The Stripe secret key: the fake's test key locally, else the secret's value, read with the operator's rights. */
async function stripeSecretKey(local: string | undefined, secretArn: string | undefined): Promise<string> {
  if (local !== undefined) {
    const { secrets } = await localListing<{ secrets: Record<string, string> }>(local, '/_local/secrets');
    const key = secrets[LOCAL_STRIPE_SECRET_KEY];
    if (key === undefined) throw new UsageError(`${local}/_local/secrets has no ${LOCAL_STRIPE_SECRET_KEY}`);
    return key;
  }
  if (secretArn === undefined)
    throw new UsageError('payments needs --stripe-secret-arn <arn> or --local <url>');
  const value = await getSecret(secretArn);
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(`secret ${secretArn} holds no string value`);
  }
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const local = takeOption(args, '--local');
  const stateMachineArnOption = takeOption(args, '--state-machine-arn');
  const tableOption = takeOption(args, '--table');
  const userPoolIdOption = takeOption(args, '--user-pool-id');
  const clientIdOption = takeOption(args, '--client-id');
  const stripeSecretArnOption = takeOption(args, '--stripe-secret-arn');
  const timerGroupOption = takeOption(args, '--timer-group');
  const out = (line: string) => console.log(line);
  const requestedHelp = helpRequested(args);
  if (requestedHelp !== undefined) {
    out(requestedHelp);
    return;
  }
  const [area, ...rest] = args;
  if (!isArea(area)) {
    throw new UsageError(`${area === undefined ? 'no area given' : `no area ${area}`}\n${help()}`);
  }
  const endpoints =
    local === undefined ? undefined : await localListing<LocalEndpoints>(local, '/_local/endpoints');
  const clientConfig = (endpoint: string | undefined) =>
    endpoint === undefined ? {} : { ...LOCAL_CLIENT_CONFIG, endpoint };
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
  if (area === 'orders') {
    const tableName = tableOption ?? endpoints?.tableNames[ORDERS_TABLE];
    if (tableName === undefined) {
      throw new UsageError('orders needs --table <name> (the stack output OrdersTableName) or --local <url>');
    }
    const dynamodb = new DynamoDBClient(clientConfig(endpoints?.dynamodb));
    try {
      await runOrdersCommand(rest, { dynamodb, tableName, out });
    } finally {
      dynamodb.destroy();
    }
    return;
  }
  if (area === 'customers') {
    const userPoolId = userPoolIdOption ?? endpoints?.userPoolId;
    const clientId = clientIdOption ?? endpoints?.userPoolClientId;
    if (userPoolId === undefined || clientId === undefined) {
      throw new UsageError(
        'customers needs --user-pool-id <id> and --client-id <id> (the stack outputs CustomerUserPoolId and ' +
          'CustomerUserPoolClientId) or --local <url>',
      );
    }
    const cognito = new CognitoIdentityProviderClient(clientConfig(endpoints?.cognito));
    try {
      await runCustomersCommand(rest, { cognito, userPoolId, clientId, out, readStdin });
    } finally {
      cognito.destroy();
    }
    return;
  }
  if (area === 'payments') {
    const tableName = tableOption ?? endpoints?.tableNames[ORDERS_TABLE];
    // Locally the group is named after the model's timer, as the local system creates it (lib/local/runtime/wiring.ts).
    const timerGroupName =
      timerGroupOption ??
      (endpoints === undefined
        ? undefined
        : appModel.timers.find((timer) => timer.targetFunction === PAYMENT_TIMEOUT_FUNCTION)?.name);
    if (tableName === undefined || timerGroupName === undefined) {
      throw new UsageError(
        'payments needs --table <name>, --stripe-secret-arn <arn> and --timer-group <name> (the stack outputs ' +
          'OrdersTableName, PaymentProviderApiKeySecretArn and PaymentTimeoutsTimerGroupName) or --local <url>',
      );
    }
    if (endpoints !== undefined && endpoints.stripe === undefined) {
      throw new UsageError(`${local ?? ''}/_local/endpoints lists no stripe endpoint`);
    }
    const dynamodb = new DynamoDBClient(clientConfig(endpoints?.dynamodb));
    const scheduler = new SchedulerClient(clientConfig(endpoints?.scheduler));
    try {
      const report = await runPaymentsCommand(rest, {
        reconciler: async () =>
          reconcilingPaymentService({
            dynamodb,
            tableName,
            provider: stripeProvider(await stripeSecretKey(local, stripeSecretArnOption), endpoints?.stripe),
            scheduler,
            timerGroupName,
            warn: (line) => console.error(line),
          }),
        out,
      });
      // The pass ran, but some payments are not settled: the caller (a script, an operator) must know.
      if (report.failed.length > 0) process.exitCode = 1;
    } finally {
      dynamodb.destroy();
      scheduler.destroy();
    }
    return;
  }
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
}

const argv = process.argv.slice(2);
try {
  await main(argv);
} catch (error) {
  const code = error instanceof Error && 'code' in error ? String(error.code) : undefined;
  const message = error instanceof Error ? error.message : String(error);
  // With --json a script reads the failure too: one JSON object on stderr, stdout keeping what was printed.
  console.error(
    argv.includes('--json')
      ? JSON.stringify({ error: { name: error instanceof Error ? error.name : 'Error', code, message } })
      : error instanceof Error
        ? `${error.name}: ${message}`
        : message,
  );
  // Usage mistakes (ours, or a command's `*_USAGE` errors) exit 2, as command-line tools conventionally do.
  process.exitCode = error instanceof UsageError || code?.endsWith('_USAGE') === true ? 2 : 1;
}

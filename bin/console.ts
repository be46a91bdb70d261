/**
 * `npm run console`: the operations console against a deployed stack, served on this machine only.
 *
 *   npm run console -- --region eu-west-1                      the stack OrderBackbone, on http://127.0.0.1:3100
 *   npm run console -- --region eu-west-1 --stack orders-staging --port 0
 *
 * It reads the stack's outputs (OrdersTableName, FulfillmentStateMachineArn), acts with the SDK's default
 * credentials (AWS_PROFILE, SSO, the AWS_* variables) and names their identity's ARN in the action log, which it
 * prints on stdout. REFUND_STUCK_AFTER_SECONDS in the environment, as the stack was deployed with it, sets which
 * refunds the overview calls stuck (default: the model's). See docs/console.md.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { loadConfig } from '../functions/config';
import {
  CONSOLE_USAGE,
  ConsoleUsageError,
  consoleStackNames,
  operatorArn,
  parseConsoleArgs,
  readStackOutputs,
  startConsoleServer,
} from '../lib/console/cli';

async function main(): Promise<void> {
  const args = parseConsoleArgs(process.argv.slice(2));
  if (args.help) {
    console.log(CONSOLE_USAGE);
    return;
  }
  const { region, stackName, port } = args;
  const cloudformation = new CloudFormationClient({ region });
  const sts = new STSClient({ region });
  let operator: string;
  let outputs: Awaited<ReturnType<typeof readStackOutputs>>;
  try {
    // Who first: without credentials, that is the clearest thing to say.
    operator = await operatorArn(sts);
    outputs = await readStackOutputs(cloudformation, stackName);
  } finally {
    cloudformation.destroy();
    sts.destroy();
  }
  const names = consoleStackNames(stackName, outputs);
  const dynamodb = new DynamoDBClient({ region });
  const sqs = new SQSClient({ region });
  const sfn = new SFNClient({ region });
  const destroyClients = () => {
    dynamodb.destroy();
    sqs.destroy();
    sfn.destroy();
  };
  const server = await startConsoleServer({
    target: {
      dynamodb,
      sqs,
      sfn,
      ...names,
      refundStuckAfterSeconds: loadConfig('sweeper', process.env).REFUND_STUCK_AFTER_SECONDS,
      commandPrefix: `AWS_REGION=${region} npm run ops -- --state-machine-arn ${names.stateMachineArn}`,
    },
    operator,
    port,
    log: (line) => console.log(line),
  }).catch((error: unknown) => {
    destroyClients();
    throw error;
  });
  console.error(
    [
      `Operations console for stack ${stackName} in ${region}, as ${operator}`,
      `  ${server.consoleUrl}   (this machine only)`,
      'Press Ctrl+C to stop.',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`[console] ${signal}: stopping`);
    server.close().then(
      () => {
        destroyClients();
        process.exit(0);
      },
      (error: unknown) => {
        destroyClients();
        console.error('[console] stopped with errors:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

try {
  await main();
} catch (error) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(message);
  // Usage mistakes exit 2, as command-line tools conventionally do (and as `npm run ops` does).
  process.exitCode = error instanceof ConsoleUsageError ? 2 : 1;
}

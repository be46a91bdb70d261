import { CloudFormationServiceException } from '@aws-sdk/client-cloudformation';
import { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import {
  CONSOLE_STACK_OUTPUTS,
  ConsoleCliErrorCode,
  ConsoleCredentialsError,
  ConsoleUsageError,
  consoleStackNames,
  credentialsFailure,
  DEFAULT_CONSOLE_PORT,
  describeStacksFailure,
  operatorArn,
  parseConsoleArgs,
  StackNotFoundError,
  StackOutputMissingError,
} from '../../lib/console/cli';
import { appModel } from '../../lib/model';
import { DEFAULT_STACK_NAME } from '../../lib/naming';
import { synthesize } from '../support/synth';

/** `npm run console`'s arguments, the stack outputs it reads, and the errors it turns AWS's answers into. */

function refusalOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

/** The error the SDK's default credential chain throws when no provider has credentials. */
function noCredentials(): Error {
  return Object.assign(new Error('Could not load credentials from any providers'), {
    name: 'CredentialsProviderError',
  });
}

describe('parseConsoleArgs', () => {
  it('takes the region, and defaults the stack to the app default and the port to 3100', () => {
    // Act
    const parsed = parseConsoleArgs(['--region', 'eu-west-1']);

    // Assess
    expect(parsed).toEqual({ help: false, region: 'eu-west-1', stackName: DEFAULT_STACK_NAME, port: 3100 });
    expect(DEFAULT_CONSOLE_PORT).toBe(3100);
  });

  it('takes a stack name and a port, 0 for any free one', () => {
    // Act
    const parsed = parseConsoleArgs(['--stack', 'orders-staging', '--port', '0', '--region', 'us-east-2']);

    // Assess
    expect(parsed).toEqual({ help: false, region: 'us-east-2', stackName: 'orders-staging', port: 0 });
  });

  it('answers help for --help and -h, whatever else is given', () => {
    // Act
    const asked = [['--help'], ['-h'], ['--region', 'eu-west-1', '--help']].map((args) =>
      parseConsoleArgs(args),
    );

    // Assess
    expect(asked).toEqual([{ help: true }, { help: true }, { help: true }]);
  });

  it.each([
    [[], '--region is required'],
    [['--region'], 'argument missing'],
    [['--region', 'eu-west-1', '--regoin', 'x'], "Unknown option '--regoin'"],
    [['--region', 'eu-west-1', 'OrderBackbone'], "Unexpected argument 'OrderBackbone'"],
    [['--region', 'eu-west-1', '--stack', ''], '--stack needs a name'],
    [['--region', 'eu-west-1', '--port', 'http'], '--port must be a whole number from 0 to 65535, not http'],
    [
      ['--region', 'eu-west-1', '--port', '65536'],
      '--port must be a whole number from 0 to 65535, not 65536',
    ],
    [['--region', 'eu-west-1', '--port=-1'], '--port must be a whole number from 0 to 65535, not -1'],
  ])('refuses %j with a usage error', (args, problem) => {
    // Act
    const refusal = refusalOf(() => parseConsoleArgs(args));

    // Assess
    expect(refusal).toBeInstanceOf(ConsoleUsageError);
    expect(refusal).toMatchObject({ code: ConsoleCliErrorCode.USAGE });
    expect((refusal as Error).message).toContain(problem);
    expect((refusal as Error).message).toContain('usage: npm run console -- --region <region>');
  });
});

describe('consoleStackNames', () => {
  const outputs = [
    { OutputKey: 'HttpApiUrl', OutputValue: 'https://api.example' },
    { OutputKey: 'OrdersTableName', OutputValue: 'OrderBackbone-OrdersTable-1A2B' },
    {
      OutputKey: 'FulfillmentStateMachineArn',
      OutputValue: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Fulfillment-1A2B',
    },
  ];

  it('reads the orders table and the fulfilment state machine from their outputs', () => {
    // Act
    const names = consoleStackNames('OrderBackbone', outputs);

    // Assess
    expect(names).toEqual({
      tableName: 'OrderBackbone-OrdersTable-1A2B',
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Fulfillment-1A2B',
    });
  });

  it('names every output that is missing or empty', () => {
    // Act
    const oneMissing = refusalOf(() =>
      consoleStackNames(
        'OrderBackbone',
        outputs.filter((output) => output.OutputKey !== 'FulfillmentStateMachineArn'),
      ),
    );
    const bothMissing = refusalOf(() =>
      consoleStackNames('Other', [
        { OutputKey: 'OrdersTableName', OutputValue: '' },
        { OutputKey: 'HttpApiUrl', OutputValue: 'https://api.example' },
      ]),
    );

    // Assess
    expect(oneMissing).toBeInstanceOf(StackOutputMissingError);
    expect(oneMissing).toMatchObject({
      code: ConsoleCliErrorCode.STACK_OUTPUT_MISSING,
      stackName: 'OrderBackbone',
      outputKeys: ['FulfillmentStateMachineArn'],
    });
    expect(bothMissing).toMatchObject({ outputKeys: ['OrdersTableName', 'FulfillmentStateMachineArn'] });
    expect((bothMissing as Error).message).toBe(
      "stack Other has no output OrdersTableName, FulfillmentStateMachineArn: is it this project's stack, deployed whole?",
    );
  });

  it('reads outputs the synthesized stack has', () => {
    // Prepare
    const { template } = synthesize(appModel);

    // Act
    const declared = Object.keys(template.findOutputs('*'));

    // Assess
    expect(declared).toEqual(expect.arrayContaining(Object.values(CONSOLE_STACK_OUTPUTS)));
  });
});

describe("AWS's refusals", () => {
  it('turns the ValidationError for a stack that does not exist into StackNotFoundError', () => {
    // Prepare
    const missing = new CloudFormationServiceException({
      name: 'ValidationError',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'Stack with id orders-stagin does not exist',
    });
    const otherValidation = new CloudFormationServiceException({
      name: 'ValidationError',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: '1 validation error detected',
    });

    // Act
    const notFound = describeStacksFailure(missing, 'orders-stagin', 'eu-west-1');
    const other = describeStacksFailure(otherValidation, 'orders-stagin', 'eu-west-1');

    // Assess
    expect(notFound).toBeInstanceOf(StackNotFoundError);
    expect(notFound).toMatchObject({
      code: ConsoleCliErrorCode.STACK_NOT_FOUND,
      message: 'no stack orders-stagin in eu-west-1 (deployed under another name? --stack <name>)',
      cause: missing,
    });
    expect(other).toBe(otherValidation);
  });

  it.each(['CredentialsProviderError', 'ExpiredToken', 'InvalidClientTokenId'])(
    'turns %s into ConsoleCredentialsError, and leaves other errors as they are',
    (name) => {
      // Prepare
      const refused = Object.assign(new Error('refused'), { name });
      const throttled = Object.assign(new Error('slow down'), { name: 'Throttling' });

      // Act
      const mapped = credentialsFailure(refused);
      const left = credentialsFailure(throttled);

      // Assess
      expect(mapped).toBeInstanceOf(ConsoleCredentialsError);
      expect(mapped).toMatchObject({ code: ConsoleCliErrorCode.NO_CREDENTIALS, cause: refused });
      expect((mapped as Error).message).toMatch(
        new RegExp(`^${name}: refused; the console acts with your own AWS`),
      );
      expect(left).toBe(throttled);
    },
  );

  it('says so when the SDK finds no credentials to ask STS who the operator is', async () => {
    // Prepare: the credential chain's answer on a machine without any; nothing is sent.
    const sts = new STSClient({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: async () => {
        throw noCredentials();
      },
    });

    // Act
    const refusal = await operatorArn(sts).then(
      () => undefined,
      (error: unknown) => error,
    );
    sts.destroy();

    // Assess
    expect(refusal).toBeInstanceOf(ConsoleCredentialsError);
    expect(refusal).toMatchObject({ code: ConsoleCliErrorCode.NO_CREDENTIALS });
  });
});

import { readFileSync } from 'node:fs';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidExecutionInput,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidStateMachineDeclarationError,
  type LocalStepFunctions,
  startLocalStepFunctions,
} from '../../lib/local/stepfunctions';
import { RecordingInvoker } from '../support/local-functions';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const lambdaArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

function fixture(name: string): object {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as object;
}

class PaymentDeclined extends Error {
  public override readonly name = 'PaymentDeclined';
}

class CarrierUnavailable extends Error {
  public override readonly name = 'CarrierUnavailable';
}

describe('local Step Functions endpoint', () => {
  let carrierAttempts = 0;
  const invoker = new RecordingInvoker({
    'reserve-stock': async (event) => ({ reserved: true, for: (event as { orderId: string }).orderId }),
    'charge-payment': async (event) => {
      const { amount } = event as { amount?: number };
      if (amount !== undefined && amount > 1000) throw new PaymentDeclined('card limit exceeded');
      return { chargeId: 'ch_1', amount };
    },
    'release-stock': async () => ({ released: true }),
    'call-carrier': async () => {
      carrierAttempts += 1;
      if (carrierAttempts < 3) throw new CarrierUnavailable(`attempt ${carrierAttempts}`);
      return { trackingNumber: 'TRK-1' };
    },
  });
  let sfn: LocalStepFunctions;
  let client: SFNClient;

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      region: REGION,
      accountId: ACCOUNT,
      invoker,
      retryIntervalMs: 20,
      stateMachines: [
        {
          name: 'order-happy',
          definition: fixture('sfn-order-happy.asl.json'),
          taskFunctions: {
            [lambdaArn('reserve-stock')]: 'reserve-stock',
            [lambdaArn('charge-payment')]: 'charge-payment',
          },
        },
        {
          name: 'order-catch',
          definition: fixture('sfn-catch.asl.json'),
          taskFunctions: {
            [lambdaArn('charge-payment')]: 'charge-payment',
            [lambdaArn('release-stock')]: 'release-stock',
          },
        },
        {
          name: 'order-retry',
          definition: fixture('sfn-retry.asl.json'),
          taskFunctions: { [lambdaArn('call-carrier')]: 'call-carrier' },
        },
        {
          name: 'order-map',
          definition: fixture('sfn-map.asl.json'),
          taskFunctions: { [lambdaArn('reserve-stock')]: 'reserve-stock' },
        },
        { name: 'order-unmapped', definition: fixture('sfn-unmapped.asl.json'), taskFunctions: {} },
        { name: 'order-wait', definition: fixture('sfn-wait.asl.json'), taskFunctions: {} },
      ],
    });
    client = new SFNClient({
      endpoint: sfn.url,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await sfn.stop();
  });

  const arnOf = (name: string): string => {
    const arn = sfn.stateMachineArns[name];
    if (arn === undefined) throw new Error(`no state machine ${name}`);
    return arn;
  };

  /** Captures a rejection at once, so a promise awaited later is never reported as unhandled. */
  const outcome = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      (value) => value,
      (error: unknown) => error,
    );

  async function settled(executionArn: string): Promise<DescribeExecutionCommandOutput> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      if (described.status !== 'RUNNING' || Date.now() > deadline) return described;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('runs a direct Lambda task and a lambda:invoke task to success', async () => {
    // Prepare
    const input = JSON.stringify({ orderId: 'o-1', amount: 40 });

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: arnOf('order-happy'), name: 'o-1', input }),
    );
    const described = await settled(started.executionArn ?? '');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    // Assess
    expect(started.executionArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:order-happy:o-1`);
    expect(started.startDate).toBeInstanceOf(Date);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.input).toBe(input);
    expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(described.startDate?.getTime() ?? Infinity);
    expect(JSON.parse(described.output ?? 'null')).toEqual({
      orderId: 'o-1',
      amount: 40,
      reservation: { reserved: true, for: 'o-1' },
      payment: { charge: { chargeId: 'ch_1', amount: 40 } },
    });
    expect(invoker.calls.find((call) => call.functionName === 'charge-payment')?.event).toEqual({
      orderId: 'o-1',
      amount: 40,
    });
    expect(history.events?.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.events?.[0]?.executionStartedEventDetails?.input).toBe(input);
    expect(sfn.executions().find((execution) => execution.name === 'o-1')).toMatchObject({
      status: 'SUCCEEDED',
      stateMachineArn: arnOf('order-happy'),
    });
  });

  it('runs a Task nested in a Map state locally, once per item', async () => {
    // Prepare
    const input = JSON.stringify({ lines: [{ orderId: 'l-1' }, { orderId: 'l-2' }] });

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: arnOf('order-map'), input }),
    );
    const described = await settled(started.executionArn ?? '');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output ?? 'null')).toEqual([
      { reserved: true, for: 'l-1' },
      { reserved: true, for: 'l-2' },
    ]);
    const iterations = history.events?.filter((event) => event.type === 'MapIterationSucceeded') ?? [];
    expect(iterations.map((event) => event.mapIterationSucceededEventDetails?.index).sort()).toEqual([0, 1]);
  });

  it('lets a Catch on the function error type route to compensation', async () => {
    // Prepare
    const input = JSON.stringify({ orderId: 'o-2', amount: 5000 });

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: arnOf('order-catch'), input }),
    );
    const described = await settled(started.executionArn ?? '');

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    const output = JSON.parse(described.output ?? 'null') as { failure: { Error: string; Cause: string } };
    expect(output.failure.Error).toBe('PaymentDeclined');
    expect(JSON.parse(output.failure.Cause)).toEqual({
      errorType: 'PaymentDeclined',
      errorMessage: 'card limit exceeded',
    });
    expect(output).toMatchObject({ release: { released: true } });
  });

  it('retries a failing task until it succeeds', async () => {
    // Prepare
    carrierAttempts = 0;

    // Act
    const started = await client.send(new StartExecutionCommand({ stateMachineArn: arnOf('order-retry') }));
    const described = await settled(started.executionArn ?? '');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output ?? 'null')).toEqual({ trackingNumber: 'TRK-1' });
    expect(carrierAttempts).toBe(3);
    const failures = history.events?.filter((event) => event.type === 'LambdaFunctionFailed') ?? [];
    expect(failures.map((event) => event.lambdaFunctionFailedEventDetails?.error)).toEqual([
      'CarrierUnavailable',
      'CarrierUnavailable',
    ]);
  });

  it('fails an execution whose Task resource is not mapped, past a catch-all, without calling anything', async () => {
    // Prepare
    const callsBefore = invoker.calls.length;

    // Act
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: arnOf('order-unmapped') }),
    );
    const described = await settled(started.executionArn ?? '');

    // Assess
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('Local.UnmappedTaskResource');
    expect(described.cause).toContain(lambdaArn('not-declared'));
    expect(described.cause).toContain('taskFunctions');
    expect(invoker.calls.length).toBe(callsBefore);
  });

  it('answers a repeated StartExecution like AWS: same running input is idempotent, anything else clashes', async () => {
    // Prepare
    const stateMachineArn = arnOf('order-wait');
    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"a":1}' }),
    );

    // Act
    const again = await client.send(
      new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"a":1}' }),
    );
    const otherInput = await outcome(
      client.send(new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"a":2}' })),
    );
    await client.send(new StopExecutionCommand({ executionArn: first.executionArn }));
    const afterStop = await outcome(
      client.send(new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"a":1}' })),
    );

    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    expect(otherInput).toBeInstanceOf(ExecutionAlreadyExists);
    expect(afterStop).toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('stops a running execution with the caller error and cause', async () => {
    // Prepare
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: arnOf('order-wait'), name: 'to-stop' }),
    );
    const running = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));

    // Act
    const stopped = await client.send(
      new StopExecutionCommand({ executionArn: started.executionArn, error: 'Cancelled', cause: 'customer' }),
    );
    const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    // Assess
    expect(running.status).toBe('RUNNING');
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'customer' });
    expect(history.events?.at(-1)?.type).toBe('ExecutionAborted');
    expect(history.events?.at(-1)?.executionAbortedEventDetails).toEqual({
      error: 'Cancelled',
      cause: 'customer',
    });
  });

  it('lists executions of one state machine, newest first, by status and page', async () => {
    // Prepare
    const stateMachineArn = arnOf('order-wait');
    const names = ['list-a', 'list-b', 'list-c'];
    for (const name of names) await client.send(new StartExecutionCommand({ stateMachineArn, name }));
    await client.send(
      new StopExecutionCommand({
        executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:order-wait:list-b`,
      }),
    );

    // Act
    const running = await client.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING' }),
    );
    const aborted = await client.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'ABORTED' }),
    );
    const firstPage = await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 2 }));
    const secondPage = await client.send(
      new ListExecutionsCommand({ stateMachineArn, maxResults: 2, nextToken: firstPage.nextToken }),
    );
    const otherMachine = await client.send(
      new ListExecutionsCommand({ stateMachineArn: arnOf('order-retry') }),
    );

    // Assess
    expect(running.executions?.map((execution) => execution.name)).toEqual(['list-c', 'list-a']);
    expect(aborted.executions?.map((execution) => execution.name)).toContain('list-b');
    expect(aborted.executions?.every((execution) => execution.status === 'ABORTED')).toBe(true);
    expect(firstPage.executions?.map((execution) => execution.name)).toEqual(['list-c', 'list-b']);
    expect(firstPage.nextToken).toBeTypeOf('string');
    expect(secondPage.executions?.[0]?.name).toBe('list-a');
    expect(
      otherMachine.executions?.every((execution) => execution.stateMachineArn === arnOf('order-retry')),
    ).toBe(true);
  });

  it('answers unknown resources and operations with typed AWS errors', async () => {
    // Act
    const unknownMachine = await outcome(
      client.send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:nope`,
        }),
      ),
    );
    const unknownExecution = await outcome(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:order-wait:nope`,
        }),
      ),
    );
    const badInput = await outcome(
      client.send(new StartExecutionCommand({ stateMachineArn: arnOf('order-wait'), input: '{' })),
    );
    const unsupported = await fetch(sfn.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AWSStepFunctions.CreateActivity',
      },
      body: '{}',
    });
    const described = await client.send(
      new DescribeStateMachineCommand({ stateMachineArn: arnOf('order-happy') }),
    );
    const listed = await client.send(new ListStateMachinesCommand({}));

    // Assess
    expect(unknownMachine).toBeInstanceOf(StateMachineDoesNotExist);
    expect(unknownExecution).toBeInstanceOf(ExecutionDoesNotExist);
    expect(badInput).toBeInstanceOf(InvalidExecutionInput);
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ __type: 'UnknownOperationException' });
    expect(JSON.parse(described.definition ?? '{}')).toEqual(fixture('sfn-order-happy.asl.json'));
    expect(listed.stateMachines?.map((machine) => machine.name)).toEqual([
      'order-catch',
      'order-happy',
      'order-map',
      'order-retry',
      'order-unmapped',
      'order-wait',
    ]);
  });

  it('refuses at start definitions it cannot run faithfully: invalid ASL, JSONata', async () => {
    // Prepare
    const task = (resource: string) => ({ Type: 'Task', Resource: resource, End: true });
    const definition = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Call', States: { Call: task(lambdaArn('one')) } },
            { StartAt: 'Call', States: { Call: task(lambdaArn('two')) } },
          ],
        },
      },
    };

    // Act
    const starting = await outcome(
      startLocalStepFunctions({
        region: REGION,
        accountId: ACCOUNT,
        invoker,
        stateMachines: [{ name: 'ambiguous', definition, taskFunctions: {} }],
      }),
    );
    const jsonata = await outcome(
      startLocalStepFunctions({
        region: REGION,
        accountId: ACCOUNT,
        invoker,
        stateMachines: [
          {
            name: 'jsonata',
            definition: { QueryLanguage: 'JSONata', StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
            taskFunctions: {},
          },
        ],
      }),
    );

    // Assess
    expect(starting).toBeInstanceOf(InvalidStateMachineDeclarationError);
    expect(starting).toMatchObject({ code: 'LOCAL_SFN_INVALID_STATE_MACHINE' });
    expect((starting as Error).message).toContain('Call');
    expect(jsonata).toBeInstanceOf(InvalidStateMachineDeclarationError);
    expect((jsonata as Error).message).toContain('JSONata');
  });
});

import { readFileSync } from 'node:fs';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  GetExecutionHistoryCommand,
  InvalidExecutionInput,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidStateMachineDeclarationError } from '../../lib/local/aws/step-functions/errors';
import { REDRIVE_LIMITS } from '../../lib/local/aws/step-functions/redrive';
import {
  type LocalStepFunctions,
  type LocalStepFunctionsOptions,
  startLocalStepFunctions,
} from '../../lib/local/aws/step-functions/server';
import { localClientConfig, TEST_ACCOUNT, TEST_REGION } from '../support/local-aws';
import { RecordingInvoker, waitFor } from '../support/local-functions';

const lambdaArn = (name: string) => `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:${name}`;

function fixture(name: string): object {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as object;
}

/** A local Step Functions endpoint in the test region and account, with a client of it. */
async function startEndpoint(
  options: Omit<LocalStepFunctionsOptions, 'region' | 'accountId'>,
): Promise<{ sfn: LocalStepFunctions; client: SFNClient }> {
  const sfn = await startLocalStepFunctions({ region: TEST_REGION, accountId: TEST_ACCOUNT, ...options });
  return { sfn, client: new SFNClient(localClientConfig(sfn.url)) };
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
    ({ sfn, client } = await startEndpoint({
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
    }));
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
    expect(started.executionArn).toBe(
      `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:order-happy:o-1`,
    );
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
        executionArn: `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:order-wait:list-b`,
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
          stateMachineArn: `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:stateMachine:nope`,
        }),
      ),
    );
    const unknownExecution = await outcome(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:order-wait:nope`,
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
        region: TEST_REGION,
        accountId: TEST_ACCOUNT,
        invoker,
        stateMachines: [{ name: 'ambiguous', definition, taskFunctions: {} }],
      }),
    );
    const jsonata = await outcome(
      startLocalStepFunctions({
        region: TEST_REGION,
        accountId: TEST_ACCOUNT,
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

/** A promise and the function that resolves it, so a test decides when a task returns. */
function gate(): { readonly opened: Promise<void>; readonly open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('local Step Functions RedriveExecution', () => {
  let carrierDown = true;
  let shipGate: Promise<void> = Promise.resolve();
  let holdGate: Promise<void> = Promise.resolve();
  let clockOffsetMs = 0;
  const invoker = new RecordingInvoker({
    reserve: async (event) => ({ reserved: (event as { orderId: string }).orderId }),
    ship: async (event) => {
      await shipGate;
      if (carrierDown) throw new CarrierUnavailable('carrier API down');
      return { shipped: true, seen: event };
    },
    hold: async () => {
      await holdGate;
      return { held: true };
    },
  });
  const saga = {
    StartAt: 'Reserve',
    States: {
      Reserve: { Type: 'Task', Resource: lambdaArn('reserve'), ResultPath: '$.reservation', Next: 'Ship' },
      Ship: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: lambdaArn('ship'),
          Payload: {
            'orderId.$': '$.orderId',
            'redriveCount.$': '$$.Execution.RedriveCount',
            'executionInput.$': '$$.Execution.Input',
          },
        },
        ResultSelector: { 'shipment.$': '$.Payload' },
        ResultPath: '$.shipping',
        End: true,
      },
    },
  };
  const sagaFunctions = { [lambdaArn('reserve')]: 'reserve', [lambdaArn('ship')]: 'ship' };
  const hold = {
    StartAt: 'Hold',
    States: { Hold: { Type: 'Task', Resource: lambdaArn('hold'), End: true } },
  };
  let sfn: LocalStepFunctions;
  let client: SFNClient;

  beforeAll(async () => {
    ({ sfn, client } = await startEndpoint({
      invoker,
      clock: () => new Date(Date.now() + clockOffsetMs),
      stateMachines: [
        { name: 'saga', definition: saga, taskFunctions: sagaFunctions },
        { name: 'saga-express', definition: saga, taskFunctions: sagaFunctions, type: 'EXPRESS' },
        { name: 'hold', definition: hold, taskFunctions: { [lambdaArn('hold')]: 'hold' } },
        {
          name: 'hold-with-timeout',
          definition: { ...hold, TimeoutSeconds: 1 },
          taskFunctions: { [lambdaArn('hold')]: 'hold' },
        },
      ],
    }));
  });

  afterAll(async () => {
    client.destroy();
    await sfn.stop();
  });

  const arnOf = (name: string): string => sfn.stateMachineArns[name] ?? '';
  const executionArn = (machine: string, name: string) =>
    `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:${machine}:${name}`;
  const outcome = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      (value) => value,
      (error: unknown) => error,
    );

  async function settled(arn: string): Promise<DescribeExecutionCommandOutput> {
    await waitFor(
      async () =>
        (await client.send(new DescribeExecutionCommand({ executionArn: arn }))).status !== 'RUNNING',
      5_000,
    );
    return await client.send(new DescribeExecutionCommand({ executionArn: arn }));
  }

  /** Starts an execution of `machine` and waits until it has ended, FAILED or otherwise. */
  async function ended(machine: string, name: string, input = '{}'): Promise<DescribeExecutionCommandOutput> {
    await client.send(new StartExecutionCommand({ stateMachineArn: arnOf(machine), name, input }));
    return await settled(executionArn(machine, name));
  }

  it('redrives a FAILED execution under the same ARN and input: RUNNING again with redriveCount 1, then SUCCEEDED', async () => {
    // Prepare
    carrierDown = true;
    const input = JSON.stringify({ orderId: 'o-redrive' });
    const arn = executionArn('saga', 'o-redrive');
    const failed = await ended('saga', 'o-redrive', input);
    carrierDown = false;
    const release = gate();
    shipGate = release.opened;

    // Act
    const redriven = await client.send(new RedriveExecutionCommand({ executionArn: arn }));
    const running = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    release.open();
    const succeeded = await settled(arn);
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: arn }));

    // Assess
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: 'CarrierUnavailable',
      redriveStatus: 'REDRIVABLE',
    });
    expect(redriven.redriveDate).toBeInstanceOf(Date);
    expect(running).toMatchObject({
      status: 'RUNNING',
      redriveCount: 1,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is RUNNING and cannot be redriven',
    });
    expect(running.redriveDate?.getTime()).toBe(redriven.redriveDate?.getTime());
    expect(running.error).toBeUndefined();
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', input, redriveCount: 1 });
    expect(succeeded.startDate?.getTime()).toBe(failed.startDate?.getTime());
    expect(JSON.parse(succeeded.output ?? 'null')).toMatchObject({
      shipping: { shipment: { shipped: true, seen: { orderId: 'o-redrive', redriveCount: 1 } } },
    });
    expect(invoker.callsOf('ship').at(-1)?.event).toEqual({
      orderId: 'o-redrive',
      redriveCount: 1,
      executionInput: { orderId: 'o-redrive' },
    });
    // The local difference from AWS: the run starts again at the first state, so Reserve runs twice.
    expect(
      invoker
        .callsOf('reserve')
        .filter((call) => (call.event as { orderId: string }).orderId === 'o-redrive'),
    ).toHaveLength(2);
    const types = history.events?.map((event) => event.type) ?? [];
    expect(types.filter((type) => type === 'ExecutionStarted')).toHaveLength(1);
    expect(types.indexOf('ExecutionFailed')).toBeLessThan(types.indexOf('ExecutionRedriven'));
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(
      history.events?.find((event) => event.type === 'ExecutionRedriven')?.executionRedrivenEventDetails,
    ).toEqual({ redriveCount: 1 });
    expect(history.events?.map((event) => event.id)).toEqual(types.map((_, index) => index + 1));
  });

  it('refuses to redrive a SUCCEEDED or a RUNNING execution, and says why in DescribeExecution', async () => {
    // Prepare
    carrierDown = false;
    shipGate = Promise.resolve();
    const done = await ended('saga', 'o-done', JSON.stringify({ orderId: 'o-done' }));
    const release = gate();
    holdGate = release.opened;
    await client.send(new StartExecutionCommand({ stateMachineArn: arnOf('hold'), name: 'h-running' }));

    // Act
    const redriveDone = await outcome(
      client.send(new RedriveExecutionCommand({ executionArn: executionArn('saga', 'o-done') })),
    );
    const redriveRunning = await outcome(
      client.send(new RedriveExecutionCommand({ executionArn: executionArn('hold', 'h-running') })),
    );
    release.open();
    const afterRefusal = await settled(executionArn('saga', 'o-done'));

    // Assess
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
    });
    expect(redriveDone).toBeInstanceOf(ExecutionNotRedrivable);
    expect((redriveDone as Error).message).toBe('Execution is SUCCEEDED and cannot be redriven');
    expect(redriveRunning).toBeInstanceOf(ExecutionNotRedrivable);
    expect(afterRefusal).toMatchObject({ status: 'SUCCEEDED', redriveCount: 0 });
  });

  it('redrives an ABORTED execution, and ignores what its abandoned task returns after the abort', async () => {
    // Prepare
    const arn = executionArn('hold', 'h-aborted');
    const first = gate();
    holdGate = first.opened;
    await client.send(new StartExecutionCommand({ stateMachineArn: arnOf('hold'), name: 'h-aborted' }));
    await waitFor(() => invoker.callsOf('hold').length > 0);
    await client.send(new StopExecutionCommand({ executionArn: arn, error: 'Operator' }));
    const second = gate();
    holdGate = second.opened;

    // Act
    await client.send(new RedriveExecutionCommand({ executionArn: arn }));
    first.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const afterLateResult = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    second.open();
    const finished = await settled(arn);
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: arn }));

    // Assess
    expect(afterLateResult).toMatchObject({ status: 'RUNNING', redriveCount: 1 });
    expect(finished).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    const types = history.events?.map((event) => event.type) ?? [];
    const redriven = types.indexOf('ExecutionRedriven');
    expect(types[redriven - 1]).toBe('ExecutionAborted');
    expect(types.filter((type) => type === 'LambdaFunctionSucceeded')).toHaveLength(1);
    expect(types.slice(redriven + 1)).toContain('LambdaFunctionSucceeded');
  });

  it('redrives a TIMED_OUT execution', async () => {
    // Prepare
    const arn = executionArn('hold-with-timeout', 'h-timed-out');
    const release = gate();
    holdGate = release.opened;
    const timedOut = await ended('hold-with-timeout', 'h-timed-out');
    release.open();

    // Act
    await client.send(new RedriveExecutionCommand({ executionArn: arn }));
    const finished = await settled(arn);

    // Assess
    expect(timedOut).toMatchObject({ status: 'TIMED_OUT', redriveStatus: 'REDRIVABLE' });
    expect(finished).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
  });

  it('refuses to redrive once 14 days have passed since the execution stopped', async () => {
    // Prepare
    carrierDown = true;
    shipGate = Promise.resolve();
    const arn = executionArn('saga', 'o-too-late');
    await ended('saga', 'o-too-late', JSON.stringify({ orderId: 'o-too-late' }));
    clockOffsetMs = REDRIVE_LIMITS.windowMs + 60_000;

    // Act
    const refused = await outcome(client.send(new RedriveExecutionCommand({ executionArn: arn })));
    const described = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    clockOffsetMs = REDRIVE_LIMITS.windowMs - 60_000;
    const withinWindow = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    clockOffsetMs = 0;

    // Assess
    expect(refused).toBeInstanceOf(ExecutionNotRedrivable);
    expect(described).toMatchObject({
      status: 'FAILED',
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution redrivable period exceeded',
    });
    expect(withinWindow.redriveStatus).toBe('REDRIVABLE');
  });

  it('refuses to redrive an execution of an EXPRESS state machine', async () => {
    // Prepare
    carrierDown = true;
    shipGate = Promise.resolve();
    const failed = await ended('saga-express', 'o-express', JSON.stringify({ orderId: 'o-express' }));

    // Act
    const refused = await outcome(
      client.send(new RedriveExecutionCommand({ executionArn: executionArn('saga-express', 'o-express') })),
    );
    const machine = await client.send(
      new DescribeStateMachineCommand({ stateMachineArn: arnOf('saga-express') }),
    );

    // Assess
    expect(failed.status).toBe('FAILED');
    expect(refused).toBeInstanceOf(ExecutionNotRedrivable);
    expect(machine.type).toBe('EXPRESS');
  });

  it('answers a repeated client token with the redrive it started, without running the execution again', async () => {
    // Prepare
    carrierDown = true;
    shipGate = Promise.resolve();
    const arn = executionArn('saga', 'o-token');
    await ended('saga', 'o-token', JSON.stringify({ orderId: 'o-token' }));
    const release = gate();
    shipGate = release.opened;
    const shipCalls = () =>
      invoker.callsOf('ship').filter((call) => (call.event as { orderId: string }).orderId === 'o-token')
        .length;

    // Act
    const first = await client.send(
      new RedriveExecutionCommand({ executionArn: arn, clientToken: 'retry-1' }),
    );
    const repeat = await client.send(
      new RedriveExecutionCommand({ executionArn: arn, clientToken: 'retry-1' }),
    );
    const other = await outcome(
      client.send(new RedriveExecutionCommand({ executionArn: arn, clientToken: 'retry-2' })),
    );
    carrierDown = false;
    release.open();
    const finished = await settled(arn);

    // Assess
    expect(repeat.redriveDate?.getTime()).toBe(first.redriveDate?.getTime());
    expect(other).toBeInstanceOf(ExecutionNotRedrivable);
    expect(finished).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(shipCalls()).toBe(2);
  });

  it('lists each execution with its redriveCount, and filters by redriveFilter', async () => {
    // Prepare
    const stateMachineArn = arnOf('saga');

    // Act
    const redriven = await client.send(
      new ListExecutionsCommand({ stateMachineArn, redriveFilter: 'REDRIVEN' }),
    );
    const notRedriven = await client.send(
      new ListExecutionsCommand({ stateMachineArn, redriveFilter: 'NOT_REDRIVEN' }),
    );
    const pending = await outcome(
      client.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'PENDING_REDRIVE' })),
    );

    // Assess
    expect(redriven.executions?.map((execution) => execution.name).sort()).toEqual(['o-redrive', 'o-token']);
    expect(redriven.executions?.every((execution) => execution.redriveCount === 1)).toBe(true);
    expect(redriven.executions?.every((execution) => execution.redriveDate instanceof Date)).toBe(true);
    expect(notRedriven.executions?.map((execution) => execution.name).sort()).toEqual([
      'o-done',
      'o-too-late',
    ]);
    expect(notRedriven.executions?.every((execution) => execution.redriveCount === 0)).toBe(true);
    expect(pending).toMatchObject({ name: 'ValidationException' });
    expect(sfn.executions().find((execution) => execution.name === 'o-redrive')).toMatchObject({
      redriveCount: 1,
      status: 'SUCCEEDED',
    });
  });
});

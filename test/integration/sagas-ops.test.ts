import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/aws/step-functions/server';
import { runSagasCommand, SagasCommandErrorCode, SagasUsageError } from '../../lib/ops/sagas';
import { RecordingInvoker, waitFor } from '../support/local-functions';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const lambdaArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

class WarehouseUnavailable extends Error {
  public override readonly name = 'WarehouseUnavailable';
}

/** A two-step saga: reserve, then pick, which fails for the orders listed in `warehouseDownFor`. */
const SAGA = {
  StartAt: 'Reserve',
  States: {
    Reserve: { Type: 'Task', Resource: lambdaArn('reserve'), ResultPath: '$.reservation', Next: 'Pick' },
    Pick: { Type: 'Task', Resource: lambdaArn('pick'), ResultPath: '$.pick', End: true },
  },
};
/** Holds its one task until the test lets go, so an execution stays RUNNING. */
const HOLD = { StartAt: 'Hold', States: { Hold: { Type: 'Task', Resource: lambdaArn('hold'), End: true } } };

describe('sagas operations against the local Step Functions endpoint', () => {
  const warehouseDownFor = new Set<string>();
  let releaseHold = () => {};
  const held = new Promise<void>((resolve) => {
    releaseHold = resolve;
  });
  const invoker = new RecordingInvoker({
    reserve: async () => ({ reserved: true }),
    pick: async (event) => {
      const { orderId } = event as { orderId: string };
      if (warehouseDownFor.has(orderId)) throw new WarehouseUnavailable(`warehouse down for ${orderId}`);
      return { picked: orderId };
    },
    hold: async () => {
      await held;
      return {};
    },
  });
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  let sagaArn: string;
  let holdArn: string;

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      region: REGION,
      accountId: ACCOUNT,
      invoker,
      stateMachines: [
        {
          name: 'fulfillment',
          definition: SAGA,
          taskFunctions: { [lambdaArn('reserve')]: 'reserve', [lambdaArn('pick')]: 'pick' },
        },
        { name: 'holding', definition: HOLD, taskFunctions: { [lambdaArn('hold')]: 'hold' } },
      ],
    });
    client = new SFNClient({
      endpoint: sfn.url,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    sagaArn = sfn.stateMachineArns.fulfillment ?? '';
    holdArn = sfn.stateMachineArns.holding ?? '';
    warehouseDownFor.add('o-fail').add('o-fail-2');
    for (const orderId of ['o-ok', 'o-fail', 'o-fail-2']) {
      await client.send(
        new StartExecutionCommand({
          stateMachineArn: sagaArn,
          name: orderId,
          input: JSON.stringify({ orderId }),
        }),
      );
      await statusBecomes(sagaArn, orderId, (status) => status !== 'RUNNING');
    }
  });

  afterAll(async () => {
    releaseHold();
    client.destroy();
    await sfn.stop();
  });

  const executionArn = (machineArn: string, name: string) =>
    `${machineArn.replace(':stateMachine:', ':execution:')}:${name}`;

  async function statusBecomes(
    machineArn: string,
    name: string,
    done: (status: string | undefined) => boolean,
  ): Promise<void> {
    await waitFor(async () => {
      const { status } = await client.send(
        new DescribeExecutionCommand({ executionArn: executionArn(machineArn, name) }),
      );
      return done(status);
    }, 5_000);
  }

  async function sagas(args: string[], stateMachineArn = sagaArn, now?: () => Date) {
    const lines: string[] = [];
    const result = await runSagasCommand(args, {
      sfn: client,
      stateMachineArn,
      out: (line) => lines.push(line),
      ...(now !== undefined && { now }),
    });
    return { result, lines };
  }

  const lineOf = (lines: readonly string[], name: string) =>
    lines.find((line) => line.startsWith(`${name}\t`));

  it('lists every execution with its status, start, stop and redrive count, or only those of one status', async () => {
    // Act
    const all = await sagas(['list']);
    const failed = await sagas(['list', '--status', 'FAILED']);

    // Assess
    expect(all.lines.map((line) => line.split('\t')[0]).sort()).toEqual(['o-fail', 'o-fail-2', 'o-ok']);
    expect(lineOf(all.lines, 'o-ok')).toMatch(
      /^o-ok\tSUCCEEDED\tstarted=\d{4}-\d\d-\d\dT[\d:.]+Z\tstopped=\d{4}-\d\d-\d\dT[\d:.]+Z\tredrives=0$/,
    );
    expect(lineOf(all.lines, 'o-fail')).toContain('\tFAILED\t');
    expect(failed.lines.map((line) => line.split('\t')[0]).sort()).toEqual(['o-fail', 'o-fail-2']);
    expect(failed.result).toMatchObject({
      command: 'list',
      executions: [{ status: 'FAILED' }, { status: 'FAILED' }],
    });
  });

  it('shows as stuck the failed sagas and those running longer than --older-than, not the ones that succeeded', async () => {
    // Prepare
    await client.send(new StartExecutionCommand({ stateMachineArn: holdArn, name: 'h-long' }));
    const inTwentyMinutes = () => new Date(Date.now() + 20 * 60 * 1000);

    // Act
    const failures = await sagas(['stuck']);
    const runningTooLong = await sagas(['stuck'], holdArn, inTwentyMinutes);
    const notYet = await sagas(['stuck', '--older-than', '3600'], holdArn, inTwentyMinutes);
    const runningBriefly = await sagas(['stuck'], holdArn);

    // Assess
    expect(failures.lines.map((line) => line.split('\t')[0]).sort()).toEqual(['o-fail', 'o-fail-2']);
    expect(lineOf(runningTooLong.lines, 'h-long')).toContain('\tRUNNING\t');
    expect(runningTooLong.result).toMatchObject({ command: 'stuck', olderThanSeconds: 900 });
    expect(notYet.lines).toEqual(['no stuck executions (running over 3600s or stopped short)']);
    expect(lineOf(runningBriefly.lines, 'h-long')).toBeUndefined();
  });

  it('redrives a failed saga by name once its cause is fixed, and it succeeds with its redrive counted', async () => {
    // Prepare
    warehouseDownFor.delete('o-fail');

    // Act
    const redriven = await sagas(['redrive', 'o-fail']);
    await statusBecomes(sagaArn, 'o-fail', (status) => status !== 'RUNNING');
    const listed = await sagas(['list']);

    // Assess
    expect(redriven.lines).toEqual([expect.stringMatching(/^o-fail\tredriven\t\d{4}-\d\d-\d\dT/)]);
    expect(redriven.result).toEqual({
      command: 'redrive',
      outcomes: [{ name: 'o-fail', outcome: 'redriven', redriveDate: expect.any(Date) }],
    });
    expect(lineOf(listed.lines, 'o-fail')).toMatch(/^o-fail\tSUCCEEDED\t.*\tredrives=1$/);
    expect(invoker.callsOf('pick').at(-1)?.event).toMatchObject({ orderId: 'o-fail' });
  });

  it('reports, without throwing, that a SUCCEEDED saga or an unknown name cannot be redriven', async () => {
    // Act
    const succeeded = await sagas(['redrive', 'o-ok']);
    const unknown = await sagas(['redrive', 'o-never-started']);

    // Assess
    expect(succeeded.lines).toEqual(['o-ok\tnot-redrivable\tExecution is SUCCEEDED and cannot be redriven']);
    expect(succeeded.result).toMatchObject({ outcomes: [{ name: 'o-ok', outcome: 'not-redrivable' }] });
    expect(unknown.result).toMatchObject({ outcomes: [{ name: 'o-never-started', outcome: 'not-found' }] });
  });

  it('redrives every failed saga at once with all-failed, and reports each', async () => {
    // Prepare
    warehouseDownFor.delete('o-fail-2');

    // Act
    const redriven = await sagas(['redrive', 'all-failed']);
    await statusBecomes(sagaArn, 'o-fail-2', (status) => status === 'SUCCEEDED');
    const stuckAfter = await sagas(['stuck']);

    // Assess
    expect(redriven.lines[0]).toMatch(/^o-fail-2\tredriven\t/);
    expect(redriven.lines.at(-1)).toBe('redrove 1 of 1 execution(s)');
    expect(stuckAfter.lines).toEqual(['no stuck executions (running over 900s or stopped short)']);
  });

  it.each([
    { args: ['list', '--status', 'DONE'], problem: /--status must be one of/ },
    { args: ['stuck', '--older-than', '-5'], problem: /--older-than needs a whole number/ },
    { args: ['redrive'], problem: /redrive needs an execution name or all-failed/ },
    { args: ['resume', 'o-fail'], problem: /unknown command resume/ },
  ])('refuses $args with a usage error', async ({ args, problem }) => {
    // Act
    const refused = await sagas(args).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(refused).toBeInstanceOf(SagasUsageError);
    expect(refused).toMatchObject({
      code: SagasCommandErrorCode.USAGE,
      message: expect.stringMatching(problem),
    });
  });
});

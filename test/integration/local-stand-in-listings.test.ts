import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleGroupCommand,
  GetScheduleGroupCommand,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  InvalidToken,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalScheduler, startLocalScheduler } from '../../lib/local/aws/scheduler/server';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/aws/step-functions/server';
import { eventually } from '../support/eventually';
import { localClientConfig, TEST_ACCOUNT, TEST_REGION } from '../support/local-aws';
import { RecordingInvoker } from '../support/local-functions';

/**
 * The listing operations of the local Scheduler and Step Functions endpoints: paging by token, filters, and the
 * operations that remove or refuse whole collections. The endpoints' own tests cover creating and running.
 */

const NOTIFY_ARN = `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:notify`;
// Far enough ahead that no schedule of this file fires while it runs.
const NEXT_YEAR = new Date().getUTCFullYear() + 1;

/** Follows `NextToken` from the first page to the last, returning every page. */
async function allPages<P extends { NextToken?: string | undefined }>(
  read: (token: string | undefined) => Promise<P>,
): Promise<P[]> {
  const pages = [await read(undefined)];
  for (let last = pages[0]; last?.NextToken !== undefined; last = pages.at(-1)) {
    pages.push(await read(last.NextToken));
  }
  return pages;
}

const outcome = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );

describe('local Scheduler listings', () => {
  let scheduler: LocalScheduler;
  let client: SchedulerClient;

  beforeAll(async () => {
    scheduler = await startLocalScheduler({
      invoker: new RecordingInvoker({ notify: async () => ({}) }),
      region: TEST_REGION,
      accountId: TEST_ACCOUNT,
      targetFunctions: { [NOTIFY_ARN]: 'notify' },
    });
    client = new SchedulerClient(localClientConfig(scheduler.url));
  });

  afterAll(async () => {
    client.destroy();
    await scheduler.stop();
  });

  const create = (name: string, groupName?: string) =>
    client.send(
      new CreateScheduleCommand({
        Name: name,
        ...(groupName !== undefined && { GroupName: groupName }),
        ScheduleExpression: `at(${NEXT_YEAR}-06-01T12:00:00)`,
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: NOTIFY_ARN, RoleArn: `arn:aws:iam::${TEST_ACCOUNT}:role/scheduler` },
      }),
    );

  it('pages schedules in group and name order, and a group delete takes its schedules with it', async () => {
    // Prepare
    await client.send(new CreateScheduleGroupCommand({ Name: 'batch' }));
    await client.send(new CreateScheduleGroupCommand({ Name: 'bulk' }));
    for (const name of ['e', 'c', 'a', 'd', 'b']) await create(name);
    for (const name of ['y', 'x']) await create(name, 'batch');

    // Act
    const pages = await allPages((token) =>
      client.send(
        new ListSchedulesCommand({ MaxResults: 2, ...(token !== undefined && { NextToken: token }) }),
      ),
    );
    const groupPages = await allPages((token) =>
      client.send(
        new ListScheduleGroupsCommand({
          NamePrefix: 'b',
          MaxResults: 1,
          ...(token !== undefined && { NextToken: token }),
        }),
      ),
    );
    const tooMany = await fetch(`${scheduler.url}/schedules?MaxResults=101`);
    await client.send(new DeleteScheduleGroupCommand({ Name: 'batch' }));
    const afterDelete = await client.send(new ListSchedulesCommand({}));
    const deletedGroup = await outcome(client.send(new GetScheduleGroupCommand({ Name: 'batch' })));
    const defaultDelete = await outcome(client.send(new DeleteScheduleGroupCommand({ Name: 'default' })));

    // Assess
    expect(pages.map((page) => page.Schedules?.map((item) => `${item.GroupName}/${item.Name}`))).toEqual([
      ['batch/x', 'batch/y'],
      ['default/a', 'default/b'],
      ['default/c', 'default/d'],
      ['default/e'],
    ]);
    expect(pages.at(-1)?.NextToken).toBeUndefined();
    expect(groupPages.map((page) => page.ScheduleGroups?.map((group) => group.Name))).toEqual([
      ['batch'],
      ['bulk'],
    ]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(afterDelete.Schedules?.map((item) => item.GroupName)).toEqual(Array(5).fill('default'));
    expect(deletedGroup).toBeInstanceOf(ResourceNotFoundException);
    expect(defaultDelete).toBeInstanceOf(ValidationException);
  });
});

describe('local Step Functions listings', () => {
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  const pass = { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } };

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      invoker: new RecordingInvoker({}),
      region: TEST_REGION,
      accountId: TEST_ACCOUNT,
      stateMachines: [
        { name: 'zeta', definition: pass, taskFunctions: {} },
        { name: 'alpha', definition: pass, taskFunctions: {} },
      ],
    });
    client = new SFNClient(localClientConfig(sfn.url));
  });

  afterAll(async () => {
    client.destroy();
    await sfn.stop();
  });

  it('pages state machines by name and a history forwards, backwards and without data', async () => {
    // Prepare
    const stateMachineArn = sfn.stateMachineArns.alpha ?? '';
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ secret: 1 }) }),
    );
    await eventually(() => sfn.executions().find((execution) => execution.status === 'SUCCEEDED'));

    // Act
    const machinePages = await allPages(async (token) => {
      const page = await client.send(
        new ListStateMachinesCommand({ maxResults: 1, ...(token !== undefined && { nextToken: token }) }),
      );
      return { names: page.stateMachines?.map((machine) => machine.name), NextToken: page.nextToken };
    });
    const history = (reverseOrder: boolean, includeExecutionData: boolean) =>
      allPages(async (token) => {
        const page = await client.send(
          new GetExecutionHistoryCommand({
            executionArn,
            maxResults: 2,
            reverseOrder,
            includeExecutionData,
            ...(token !== undefined && { nextToken: token }),
          }),
        );
        return { events: page.events ?? [], NextToken: page.nextToken };
      });
    const forwards = (await history(false, true)).flatMap((page) => page.events);
    const backwards = (await history(true, true)).flatMap((page) => page.events);
    const withoutData = (await history(false, false)).flatMap((page) => page.events);
    const badToken = await outcome(client.send(new ListStateMachinesCommand({ nextToken: 'not-a-token' })));

    // Assess
    const types = (events: HistoryEvent[]) => events.map((event) => event.type);
    expect(machinePages.map((page) => page.names)).toEqual([['alpha'], ['zeta']]);
    expect(types(forwards)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(forwards.map((event) => event.id)).toEqual([1, 2, 3, 4]);
    expect(types(backwards)).toEqual(types(forwards).reverse());
    expect(forwards[0]?.executionStartedEventDetails?.input).toBe('{"secret":1}');
    expect(withoutData[0]?.executionStartedEventDetails).toEqual({
      inputDetails: { truncated: false },
      roleArn: `arn:aws:iam::${TEST_ACCOUNT}:role/local-alpha`,
    });
    expect(badToken).toBeInstanceOf(InvalidToken);
  });
});

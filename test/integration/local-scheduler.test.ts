import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqsDeadLetterSender } from '../../lib/local/aws/scheduler/dead-letters';
import { type LocalScheduler, startLocalScheduler } from '../../lib/local/aws/scheduler/server';
import { findFreePort } from '../../lib/local/ports';
import { eventually } from '../support/eventually';
import { localClientConfig, TEST_ACCOUNT, TEST_REGION } from '../support/local-aws';
import { RecordingInvoker } from '../support/local-functions';

const lambdaArn = (name: string) => `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:${name}`;
const ROLE_ARN = `arn:aws:iam::${TEST_ACCOUNT}:role/scheduler`;

class PaymentProviderDown extends Error {
  public override readonly name = 'PaymentProviderDown';
}

/** `at()` for the first whole second at least one second ahead, so the schedule is created before it is due. */
function nextSecond(): { expression: string; at: number } {
  const at = Math.ceil((Date.now() + 1000) / 1000) * 1000;
  return { expression: `at(${new Date(at).toISOString().slice(0, 19)})`, at };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Captures a rejection at once, so a promise awaited later is never reported as unhandled. */
const outcome = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );

describe('local EventBridge Scheduler endpoint', () => {
  const invoker = new RecordingInvoker({
    notify: async () => ({ ok: true }),
    'charge-timeout': async () => {
      throw new PaymentProviderDown('provider returned 503');
    },
    sweeper: async () => ({ swept: 0 }),
  });
  let fauxqs: FauxqsServer;
  let sqs: SQSClient;
  let scheduler: LocalScheduler;
  let client: SchedulerClient;
  let dlq: { queueUrl: string; queueArn: string };

  beforeAll(async () => {
    fauxqs = await startFauxqs({ port: await findFreePort(), logger: false });
    dlq = fauxqs.createQueue('scheduler-dlq');
    sqs = new SQSClient(localClientConfig(`http://127.0.0.1:${fauxqs.port}`));
    scheduler = await startLocalScheduler({
      invoker,
      region: TEST_REGION,
      accountId: TEST_ACCOUNT,
      targetFunctions: {
        [lambdaArn('notify')]: 'notify',
        [lambdaArn('charge-timeout')]: 'charge-timeout',
        [lambdaArn('sweeper')]: 'sweeper',
      },
      deadLetters: sqsDeadLetterSender(sqs),
      rateOverridesSeconds: { sweeper: 0.5 },
      retryBaseDelayMs: 20,
    });
    client = new SchedulerClient(localClientConfig(scheduler.url));
  });

  afterAll(async () => {
    client.destroy();
    sqs.destroy();
    await scheduler.stop();
    await fauxqs.stop();
  });

  const schedule = (
    name: string,
    overrides: Partial<CreateScheduleCommandInput>,
  ): CreateScheduleCommandInput => ({
    Name: name,
    ScheduleExpression: nextSecond().expression,
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: lambdaArn('notify'), RoleArn: ROLE_ARN },
    ...overrides,
  });

  it('fires an at() schedule once, at its second, deletes it after, and leaves a disabled one alone', async () => {
    // Prepare
    const { expression, at } = nextSecond();
    const target = (orderId: string) => ({
      Arn: lambdaArn('notify'),
      RoleArn: ROLE_ARN,
      Input: JSON.stringify({ orderId }),
    });
    await client.send(
      new CreateScheduleCommand(
        schedule('reminder', {
          ScheduleExpression: expression,
          Target: target('o-1'),
          ActionAfterCompletion: 'DELETE',
        }),
      ),
    );
    await client.send(
      new CreateScheduleCommand(
        schedule('reminder-off', {
          ScheduleExpression: expression,
          Target: target('o-off'),
          State: 'DISABLED',
        }),
      ),
    );

    // Act
    const first = await eventually(() => invoker.callsOf('notify')[0]);
    await pause(400);
    const deleted = await outcome(client.send(new GetScheduleCommand({ Name: 'reminder' })));
    const disabled = await client.send(new GetScheduleCommand({ Name: 'reminder-off' }));

    // Assess
    expect(first.event).toEqual({ orderId: 'o-1' });
    expect(first.at).toBeGreaterThanOrEqual(at);
    expect(first.at).toBeLessThan(at + 1000);
    expect(invoker.callsOf('notify')).toHaveLength(1);
    expect(deleted).toBeInstanceOf(ResourceNotFoundException);
    expect(disabled.State).toBe('DISABLED');
    expect(
      scheduler.inspect().invocations.filter((record) => record.scheduleName === 'reminder'),
    ).toMatchObject([{ attempt: 1, outcome: 'SUCCEEDED', scheduledTime: new Date(at).toISOString() }]);
  });

  it('retries a failing target per its RetryPolicy, then sends the input to the dead-letter queue', async () => {
    // Prepare
    const input = JSON.stringify({ orderId: 'o-2', reason: 'payment-timeout' });
    await client.send(
      new CreateScheduleCommand(
        schedule('payment-timeout', {
          // FLEXIBLE is accepted and fires at the window's start locally.
          FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 },
          Target: {
            Arn: lambdaArn('charge-timeout'),
            RoleArn: ROLE_ARN,
            Input: input,
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
            DeadLetterConfig: { Arn: dlq.queueArn },
          },
        }),
      ),
    );

    // Act
    const message = await eventually<Message>(async () => {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq.queueUrl,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      return received.Messages?.[0];
    });

    // Assess
    const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
    expect(invoker.callsOf('charge-timeout')).toHaveLength(3);
    expect(message.Body).toBe(input);
    expect(attribute('ERROR_CODE')).toBe('PaymentProviderDown');
    expect(attribute('ERROR_MESSAGE')).toBe('provider returned 503');
    expect(attribute('RETRY_ATTEMPTS')).toBe('2');
    expect(attribute('EXHAUSTED_RETRY_CONDITION')).toBe('MaximumRetryAttempts');
    expect(attribute('SCHEDULE_ARN')).toBe(
      `arn:aws:scheduler:${TEST_REGION}:${TEST_ACCOUNT}:schedule/default/payment-timeout`,
    );
    expect(attribute('TARGET_ARN')).toBe(lambdaArn('charge-timeout'));
    expect(
      scheduler
        .inspect()
        .invocations.filter((record) => record.scheduleName === 'payment-timeout')
        .map((record) => [record.attempt, record.outcome]),
    ).toEqual([
      [1, 'FAILED'],
      [2, 'FAILED'],
      [3, 'FAILED'],
    ]);
    expect(scheduler.inspect().deadLetters).toMatchObject([{ queueArn: dlq.queueArn, delivered: true }]);
    // ActionAfterCompletion defaults to NONE: the completed schedule stays.
    expect(
      (await client.send(new GetScheduleCommand({ Name: 'payment-timeout' }))).ActionAfterCompletion,
    ).toBe('NONE');
  });

  it('runs a rate() schedule at its local override interval until it is deleted', async () => {
    // Prepare
    await client.send(
      new CreateScheduleCommand(
        schedule('sweeper', {
          ScheduleExpression: 'rate(1 minute)',
          Target: { Arn: lambdaArn('sweeper'), RoleArn: ROLE_ARN },
        }),
      ),
    );

    // Act
    const [first, second] = await eventually(() => {
      const calls = invoker.callsOf('sweeper');
      return calls.length >= 2 ? calls : undefined;
    }, 3000);
    await client.send(new DeleteScheduleCommand({ Name: 'sweeper' }));
    const countAtDelete = invoker.callsOf('sweeper').length;
    await pause(700);

    // Assess
    expect(first?.event).toEqual({});
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(450);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeLessThan(700);
    expect(invoker.callsOf('sweeper').length).toBe(countAtDelete);
  });

  it('answers conflicts, unknown resources and unsupported requests with typed AWS errors', async () => {
    // Prepare
    const far = { ScheduleExpression: 'at(2099-01-01T00:00:00)' };
    await client.send(new CreateScheduleCommand(schedule('unique', far)));
    await client.send(new CreateScheduleGroupCommand({ Name: 'orders' }));

    // Act
    const duplicate = await outcome(client.send(new CreateScheduleCommand(schedule('unique', far))));
    const unknown = await outcome(client.send(new GetScheduleCommand({ Name: 'missing' })));
    const unknownDelete = await outcome(client.send(new DeleteScheduleCommand({ Name: 'missing' })));
    const unknownUpdate = await outcome(client.send(new UpdateScheduleCommand(schedule('missing', far))));
    const unknownGroup = await outcome(
      client.send(new CreateScheduleCommand(schedule('x', { ...far, GroupName: 'nope' }))),
    );
    const cron = await outcome(
      client.send(new CreateScheduleCommand(schedule('c', { ScheduleExpression: 'cron(0 12 * * ? *)' }))),
    );
    const zone = await outcome(
      client.send(
        new CreateScheduleCommand(schedule('z', { ...far, ScheduleExpressionTimezone: 'Europe/Paris' })),
      ),
    );
    const sqsTarget = await outcome(
      client.send(
        new CreateScheduleCommand(
          schedule('q', { ...far, Target: { Arn: dlq.queueArn, RoleArn: ROLE_ARN } }),
        ),
      ),
    );
    const unmapped = await outcome(
      client.send(
        new CreateScheduleCommand(
          schedule('u', { ...far, Target: { Arn: lambdaArn('other'), RoleArn: ROLE_ARN } }),
        ),
      ),
    );
    const fifoDlq = await outcome(
      client.send(
        new CreateScheduleCommand(
          schedule('f', {
            ...far,
            Target: {
              Arn: lambdaArn('notify'),
              RoleArn: ROLE_ARN,
              DeadLetterConfig: { Arn: `arn:aws:sqs:${TEST_REGION}:${TEST_ACCOUNT}:dlq.fifo` },
            },
          }),
        ),
      ),
    );
    const inGroup = await client.send(
      new CreateScheduleCommand(schedule('unique', { ...far, GroupName: 'orders' })),
    );
    const group = await client.send(new GetScheduleGroupCommand({ Name: 'orders' }));
    const listed = await client.send(new ListSchedulesCommand({ GroupName: 'orders', NamePrefix: 'uni' }));
    const unsupported = await fetch(`${scheduler.url}/tags/some-arn`);

    // Assess
    expect(duplicate).toBeInstanceOf(ConflictException);
    for (const error of [unknown, unknownDelete, unknownUpdate, unknownGroup]) {
      expect(error).toBeInstanceOf(ResourceNotFoundException);
    }
    for (const error of [cron, zone, sqsTarget, unmapped, fifoDlq])
      expect(error).toBeInstanceOf(ValidationException);
    expect((cron as Error).message).toContain('cron');
    expect((zone as Error).message).toContain('UTC');
    expect((unmapped as Error).message).toContain('targetFunctions');
    expect(inGroup.ScheduleArn).toBe(
      `arn:aws:scheduler:${TEST_REGION}:${TEST_ACCOUNT}:schedule/orders/unique`,
    );
    expect(group).toMatchObject({ Name: 'orders', State: 'ACTIVE' });
    expect(listed.Schedules?.map((item) => [item.GroupName, item.Name])).toEqual([['orders', 'unique']]);
    expect(unsupported.status).toBe(400);
    expect(unsupported.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});

import {
  CreateEventBusCommand,
  DescribeEventBusCommand,
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsRequestEntry,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalEventBridge, startLocalEventBridge } from '../../lib/local/aws/eventbridge';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Captures a rejection at once, so a promise awaited later is never reported as unhandled. */
const outcome = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );

describe('local EventBridge endpoint', () => {
  let eventBridge: LocalEventBridge;
  let client: EventBridgeClient;

  beforeAll(async () => {
    eventBridge = await startLocalEventBridge({ region: REGION, accountId: ACCOUNT });
    client = new EventBridgeClient({
      endpoint: eventBridge.url,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await eventBridge.stop();
  });

  it('accepts valid entries and rejects invalid ones entry by entry', async () => {
    // Prepare
    await client.send(new CreateEventBusCommand({ Name: 'orders' }));
    const time = new Date('2026-01-02T03:04:05Z');
    const valid: PutEventsRequestEntry = {
      Source: 'order-backbone.orders',
      DetailType: 'OrderPlaced',
      Detail: JSON.stringify({ orderId: 'o-1' }),
      EventBusName: 'orders',
      Resources: ['arn:aws:dynamodb:us-east-1:123456789012:table/orders'],
      Time: time,
    };
    const entries: PutEventsRequestEntry[] = [
      valid,
      { DetailType: 'OrderPlaced', Detail: '{}' },
      { Source: 'order-backbone.orders', Detail: '{}' },
      { Source: 'order-backbone.orders', DetailType: 'OrderPlaced' },
      { Source: 'order-backbone.orders', DetailType: 'OrderPlaced', Detail: '{not json' },
      { Source: 'order-backbone.orders', DetailType: 'OrderPlaced', Detail: '[1,2]' },
      { Source: 'aws.ec2', DetailType: 'OrderPlaced', Detail: '{}' },
      { Source: 'order-backbone.orders', DetailType: 'OrderPlaced', Detail: '{}', EventBusName: 'typo' },
      {
        Source: 'order-backbone.payments',
        DetailType: 'PaymentCaptured',
        Detail: '{"orderId":"o-1"}',
        EventBusName: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/orders`,
      },
    ];

    // Act
    const result = await client.send(new PutEventsCommand({ Entries: entries }));

    // Assess
    expect(result.FailedEntryCount).toBe(7);
    expect(result.Entries?.map((entry) => entry.ErrorCode ?? 'OK')).toEqual([
      'OK',
      'InvalidArgument',
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'NotAuthorizedForSourceException',
      'ResourceNotFoundException',
      'OK',
    ]);
    expect(result.Entries?.[1]?.ErrorMessage).toContain('Source');
    const stored = eventBridge.events();
    expect(stored.map((event) => event.id)).toEqual([
      result.Entries?.[0]?.EventId,
      result.Entries?.[8]?.EventId,
    ]);
    expect(stored[0]).toMatchObject({
      eventBusName: 'orders',
      source: 'order-backbone.orders',
      detailType: 'OrderPlaced',
      detail: { orderId: 'o-1' },
      resources: valid.Resources,
      time: time.toISOString(),
    });
    expect(stored[1]?.eventBusName).toBe('orders');
  });

  it('refuses a whole request over 10 entries or 256 KB', async () => {
    // Prepare
    const entry = { Source: 's', DetailType: 't', Detail: '{}' };
    const big = { Source: 's', DetailType: 't', Detail: JSON.stringify({ blob: 'x'.repeat(130 * 1024) }) };
    const before = eventBridge.events().length;

    // Act
    const tooMany = await outcome(
      client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry) })),
    );
    const tooBig = await outcome(client.send(new PutEventsCommand({ Entries: [big, big] })));

    // Assess
    expect(tooMany).toBeInstanceOf(EventBridgeServiceException);
    expect(tooMany).toMatchObject({ name: 'ValidationException' });
    expect(tooBig).toMatchObject({ name: 'ValidationException', message: expect.stringContaining('size') });
    expect(eventBridge.events().length).toBe(before);
  });

  it('creates and describes event buses with typed errors', async () => {
    // Act
    const created = await client.send(new CreateEventBusCommand({ Name: 'shipping' }));
    const again = await outcome(client.send(new CreateEventBusCommand({ Name: 'shipping' })));
    const described = await client.send(new DescribeEventBusCommand({ Name: 'shipping' }));
    const defaultBus = await client.send(new DescribeEventBusCommand({}));
    const missing = await outcome(client.send(new DescribeEventBusCommand({ Name: 'missing' })));
    const unsupported = await fetch(eventBridge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutRule' },
      body: '{}',
    });

    // Assess
    expect(created.EventBusArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/shipping`);
    expect(again).toBeInstanceOf(ResourceAlreadyExistsException);
    expect(described).toMatchObject({ Name: 'shipping', Arn: created.EventBusArn });
    expect(described.CreationTime).toBeInstanceOf(Date);
    expect(defaultBus.Name).toBe('default');
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});

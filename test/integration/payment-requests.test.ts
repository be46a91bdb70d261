import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ENTITY, keys, paymentItem } from '../../functions/adapters/dynamodb-table';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, paymentFrom } from '../../functions/domain/payment';
import { createTestTables, type TestTables } from '../support/dynamodb';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import {
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentServiceOn,
  sampleOrder,
  secondsAfter,
} from '../support/payment-window';

const T0 = new Date('2026-11-28T10:00:00.000Z');
const TIMEOUT_SECONDS = 60;
const CUSTOMER = sampleOrder.customerId;

interface SentCommand {
  readonly command: string;
  /** The capacity units DynamoDB reports it consumed (read units for a read); none for a refused write. */
  readonly units: number;
}

/** Every DynamoDB request the client sends while `during` runs, refused or not, with the write units used. */
async function commandsOf(
  client: DynamoDBDocumentClient,
  during: () => Promise<unknown>,
): Promise<SentCommand[]> {
  const sent: SentCommand[] = [];
  const name = `countPaymentCommands-${randomUUID()}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName).replace(/Command$/, '');
      try {
        const result = await next({
          ...args,
          input: { ...(args.input as object), ReturnConsumedCapacity: 'TOTAL' },
        });
        const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        const units = [consumed ?? []].flat() as { CapacityUnits?: number }[];
        sent.push({ command, units: units.reduce((total, unit) => total + (unit.CapacityUnits ?? 0), 0) });
        return result;
      } catch (error) {
        sent.push({ command, units: 0 });
        throw error;
      }
    },
    { step: 'initialize', name },
  );
  try {
    await during();
  } finally {
    client.middlewareStack.remove(name);
  }
  return sent;
}

async function paymentWindow(prefix: string) {
  const tables = await createTestTables();
  const clock = new ManualClock(T0);
  const provider = new InMemoryPaymentProvider({
    now: () => clock.now(),
    paymentIdFor: (orderId) => `pi_${orderId}`,
  });
  const orders = orderServiceOn(tables, {
    clock,
    paymentTimeoutSeconds: TIMEOUT_SECONDS,
    newOrderId: orderIds(prefix),
  });
  const payments = paymentServiceOn(tables, clock, { provider });
  return {
    tables,
    clock,
    provider,
    orders,
    payments,
    place: async () => (await orders.placeOrder(sampleOrder)).order.orderId,
  };
}

async function stored(tables: TestTables, key: Record<string, string>) {
  const { Item } = await tables.documentClient.send(
    new GetCommand({ TableName: tables.ordersTableName, Key: key, ConsistentRead: true }),
  );
  return Item;
}

/**
 * An order as the previous code left it: no payment map in its item, its intent an item of its own with a payment
 * owner record, its lease an item of its own (released), and the claim of an event it applied.
 */
async function asPreviouslyStored(
  tables: TestTables,
  orderId: string,
  intent?: { paymentId: string; amount: number },
) {
  const { documentClient: client, ordersTableName: TableName } = tables;
  await client.send(
    new UpdateCommand({ TableName, Key: keys.order(orderId), UpdateExpression: 'REMOVE payments' }),
  );
  await client.send(
    new PutCommand({
      TableName,
      Item: { ...keys.lease(orderId), entityType: ENTITY.lease, orderId, fencingToken: 1, leaseExpiresAt: 0 },
    }),
  );
  if (intent === undefined) return;
  const pending = paymentFrom({ ...intent, orderId, currency: 'EUR' }, PaymentStatus.PENDING, T0, {
    recordedBy: PaymentFactSource.CHECKOUT,
  });
  await client.send(new PutCommand({ TableName, Item: paymentItem(pending) }));
  await client.send(
    new PutCommand({
      TableName,
      Item: { ...keys.paymentOwner(intent.paymentId), entityType: ENTITY.paymentOwner, orderId },
    }),
  );
  await client.send(
    new PutCommand({
      TableName,
      Item: {
        ...keys.providerEvent(`evt_created_${orderId}`),
        entityType: ENTITY.providerEvent,
        paymentId: intent.paymentId,
        expiresAt: 1,
      },
    }),
  );
}

describe('the payment path`s DynamoDB requests', () => {
  it('prepares a payment and applies its success in four requests and at most four write units', async () => {
    const { tables, provider, orders, payments, place } = await paymentWindow('01PAYCOUNT');
    const orderId = await place();
    let prepared: Awaited<ReturnType<typeof payments.preparePayment>> | undefined;
    let outcome: string | undefined;

    const checkout = await commandsOf(tables.documentClient, async () => {
      prepared = await payments.preparePayment(orderId, CUSTOMER);
    });
    const webhook = await commandsOf(tables.documentClient, async () => {
      outcome = await payments.handleProviderEvent(
        provider.pay(prepared?.intent.paymentId ?? ''),
        PaymentFactSource.WEBHOOK,
      );
    });

    // The lease taken on the order item is its read; recording the intent releases it.
    expect(checkout.map(({ command }) => command)).toEqual(['UpdateItem', 'UpdateItem']);
    // The order read with its payments, then PAID and SUCCEEDED in one conditional write of its item.
    expect(webhook.map(({ command }) => command)).toEqual(['Query', 'UpdateItem']);
    const writes = [...checkout, ...webhook].filter(({ command }) => command !== 'Query');
    expect(writes.every(({ units }) => units > 0)).toBe(true);
    expect(writes.reduce((total, { units }) => total + units, 0)).toBeLessThanOrEqual(4);
    expect([prepared?.created, outcome]).toEqual([true, 'paid']);
    const { order, payments: held } = await orders.getOrder(orderId);
    expect(order.status).toBe(OrderStatus.PAID);
    expect(held).toEqual([expect.objectContaining({ status: PaymentStatus.SUCCEEDED })]);
    // No payment, owner, lease or event-claim item of its own.
    expect(await stored(tables, keys.payment(orderId, `pi_${orderId}`))).toBeUndefined();
    expect(await stored(tables, keys.paymentOwner(`pi_${orderId}`))).toBeUndefined();
    expect(await stored(tables, keys.lease(orderId))).toBeUndefined();
  });

  it('answers a second request with the open intent and leaves the lease free', async () => {
    const { tables, payments, place } = await paymentWindow('01PAYAGAIN');
    const orderId = await place();
    const first = await payments.preparePayment(orderId, CUSTOMER);

    const again = await payments.preparePayment(orderId, CUSTOMER);

    expect(again).toEqual({ intent: first.intent, created: false });
    expect(await stored(tables, keys.order(orderId))).not.toHaveProperty('leaseOwner');
  });
});

describe('payments stored by the previous code', () => {
  it('answers the open intent of an order without a payment map, and pays it where it is stored', async () => {
    const { tables, provider, orders, payments, place } = await paymentWindow('01PAYOLD');
    const orderId = await place();
    const intent = await provider.createIntent(
      { orderId, amount: (await orders.getOrder(orderId)).order.totalAmount, currency: 'EUR' },
      `intent-${orderId}-1`,
    );
    await asPreviouslyStored(tables, orderId, { paymentId: intent.paymentId, amount: intent.amount });

    const again = await payments.preparePayment(orderId, CUSTOMER);
    const event = provider.pay(intent.paymentId);
    const outcomes = [
      await payments.handleProviderEvent(event, PaymentFactSource.WEBHOOK),
      await payments.handleProviderEvent(event, PaymentFactSource.WEBHOOK),
    ];

    expect(again).toMatchObject({ created: false, intent: { paymentId: intent.paymentId } });
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`]);
    expect(outcomes).toEqual(['paid', 'duplicate']);
    expect((await orders.getOrder(orderId)).order.status).toBe(OrderStatus.PAID);
    expect(await stored(tables, keys.payment(orderId, intent.paymentId))).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.WEBHOOK,
    });
    expect(await stored(tables, keys.order(orderId))).not.toHaveProperty('payments');
  });

  it('records a new intent of an order without a payment map as an item of its own, and pays it', async () => {
    const { tables, provider, orders, payments, place } = await paymentWindow('01PAYOLDNEW');
    const orderId = await place();
    await asPreviouslyStored(tables, orderId);

    const prepared = await payments.preparePayment(orderId, CUSTOMER);
    const again = await payments.preparePayment(orderId, CUSTOMER);
    const outcome = await payments.handleProviderEvent(
      provider.pay(prepared.intent.paymentId),
      PaymentFactSource.WEBHOOK,
    );

    expect([prepared.created, again.created, outcome]).toEqual([true, false, 'paid']);
    // Past the token of the previous lease item, so no idempotency key the previous code used is used again.
    expect(provider.intentKeys).toEqual([`intent-${orderId}-2`]);
    expect(await stored(tables, keys.payment(orderId, prepared.intent.paymentId))).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
    });
    expect((await orders.getOrder(orderId)).payments).toHaveLength(1);
  });

  it('keeps the timeout from cancelling while a lease item of the previous layout is live', async () => {
    const { tables, clock, orders, payments, place } = await paymentWindow('01PAYOLDLEASE');
    const orderId = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));
    await tables.documentClient.send(
      new PutCommand({
        TableName: tables.ordersTableName,
        Item: {
          ...keys.lease(orderId),
          entityType: ENTITY.lease,
          orderId,
          leaseOwner: 'old code',
          fencingToken: 1,
          leaseExpiresAt: secondsAfter(clock.now(), 10).getTime(),
        },
      }),
    );

    const whileLive = payments.expireOrder(orderId, 'timer');
    await expect(whileLive).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    clock.set(secondsAfter(clock.now(), 10));
    const afterExpiry = await payments.expireOrder(orderId, 'timer');

    expect(afterExpiry).toBe('cancelled');
    expect((await orders.getOrder(orderId)).order.status).toBe(OrderStatus.CANCELLED);
  });
});

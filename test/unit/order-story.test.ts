import { describe, expect, it } from 'vitest';
import type { Order, OrderTransition } from '../../functions/domain/order';
import type { OrderStatus } from '../../functions/domain/order-status';
import type { Payment, PaymentFactSource } from '../../functions/domain/payment';
import { type OrderStory, orderStoryJson, publishedEventsOf, renderOrderStory } from '../../lib/ops/order';

const ORDER_ID = '01JD0000000000000000000000';

/** A refunded order whose saga compensated, one poison event in the DLQ and one problem. */
const story: OrderStory = {
  orderId: ORDER_ID,
  gatheredAt: '2026-01-01T10:10:00.000Z',
  tableName: 'orders',
  order: {
    orderId: ORDER_ID,
    customerId: 'c-1',
    status: 'FULFILLMENT_FAILED',
    version: 4,
    currency: 'EUR',
    totalAmount: 2500,
    items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
    paymentDeadline: '2026-01-01T10:30:00.000Z',
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:02:00.000Z',
  },
  timeline: [
    {
      orderId: ORDER_ID,
      version: 1,
      from: null,
      to: 'PENDING_PAYMENT',
      at: '2026-01-01T10:00:00.000Z',
      reason: 'order placed',
    },
    {
      orderId: ORDER_ID,
      version: 2,
      from: 'PENDING_PAYMENT',
      to: 'PAID',
      at: '2026-01-01T10:01:00.000Z',
      reason: 'paid by pay_1',
    },
  ],
  payments: [
    {
      paymentId: 'pay_1',
      orderId: ORDER_ID,
      status: 'REFUND_PENDING',
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:01:00.000Z',
      updatedAt: '2026-01-01T10:02:00.000Z',
      refundReason: 'FULFILLMENT_FAILED',
    },
  ],
  events: [
    {
      eventId: `${ORDER_ID}:v1`,
      type: 'OrderPlaced',
      occurredAt: '2026-01-01T10:00:00.000Z',
      detail: '2500 EUR',
    },
    {
      eventId: 'pay_1:SUCCEEDED',
      type: 'PaymentSucceeded',
      occurredAt: undefined,
      detail: 'pay_1 SUCCEEDED 2500 EUR',
    },
  ],
  ledger: [
    {
      step: 'warehouse-pick',
      status: 'COMPENSATED',
      compensatedFrom: 'ACTING',
      updatedAt: '2026-01-01T10:02:00.000Z',
    },
  ],
  saga: {
    executionName: `fulfillment-${ORDER_ID}`,
    executionArn: `arn:aws:states:us-east-1:1:execution:fulfillment:fulfillment-${ORDER_ID}`,
    status: 'FAILED',
    startedAt: '2026-01-01T10:01:05.000Z',
    stoppedAt: '2026-01-01T10:02:00.000Z',
    redriveCount: 0,
    redrivenAt: undefined,
    error: 'FulfillmentFailed',
    cause: 'compensated after LogisticsUnavailableError',
    steps: [
      {
        run: 0,
        name: 'PickGoods',
        type: 'Task',
        compensation: false,
        enteredAt: '2026-01-01T10:01:06.000Z',
        exitedAt: undefined,
        attempts: 3,
        failures: [
          { error: 'LogisticsUnavailableError', cause: 'warehouse 503', at: '2026-01-01T10:01:06.000Z' },
          { error: 'LogisticsUnavailableError', cause: 'warehouse 503', at: '2026-01-01T10:01:07.000Z' },
          { error: 'States.Timeout', cause: 'no answer', at: '2026-01-01T10:01:09.000Z' },
        ],
        outcome: 'failed',
      },
      {
        run: 0,
        name: 'ReturnGoods',
        type: 'Task',
        compensation: true,
        enteredAt: '2026-01-01T10:01:10.000Z',
        exitedAt: '2026-01-01T10:01:11.000Z',
        attempts: 1,
        failures: [],
        outcome: 'succeeded',
      },
    ],
  },
  deadLetters: [
    {
      queue: 'order-events-dlq.fifo',
      source: 'order-events.fifo',
      approximateMessages: 3,
      messages: [
        {
          messageId: 'm-1',
          messageGroupId: ORDER_ID,
          receiveCount: 6,
          sentAt: '2026-01-01T10:02:01.000Z',
          body: '{"type":"RefundRequested"}',
        },
      ],
    },
  ],
  deadLetterQueuesSearched: ['order-events-dlq.fifo', 'status-events-dlq.fifo'],
  problems: [
    {
      summary: '1 message in order-events-dlq.fifo',
      details: ['order-events-dlq.fifo holds about 3 message(s) in all; a redrive moves every one of them'],
      command: 'npm run ops -- dlq redrive order-events.fifo',
    },
  ],
};

describe('renderOrderStory', () => {
  it('puts the order and its problems with their fix commands first', () => {
    // Act
    const lines = renderOrderStory(story);

    // Assess
    expect(lines.slice(0, 9)).toEqual([
      `Order ${ORDER_ID}: FULFILLMENT_FAILED (version 4)`,
      '  customer c-1, 2500 EUR: MUG x2 @ 1250',
      '  created 2026-01-01T10:00:00.000Z, pay by 2026-01-01T10:30:00.000Z, updated 2026-01-01T10:02:00.000Z',
      '',
      'PROBLEMS (1)',
      '  ! 1 message in order-events-dlq.fifo',
      '      order-events-dlq.fifo holds about 3 message(s) in all; a redrive moves every one of them',
      '      once the cause is fixed: npm run ops -- dlq redrive order-events.fifo',
      '',
    ]);
  });

  it('shows timeline, payments with refunds, and events with their ids, marking a time the table no longer has', () => {
    // Act
    const lines = renderOrderStory(story);

    // Assess
    expect(lines).toContain('  2026-01-01T10:01:00.000Z  v2  PENDING_PAYMENT -> PAID  paid by pay_1');
    expect(lines).toContain(
      '  pay_1  REFUND_PENDING  2500 EUR  created 2026-01-01T10:01:00.000Z, updated 2026-01-01T10:02:00.000Z (source not recorded)  refund: FULFILLMENT_FAILED',
    );
    expect(lines).toContain(`  2026-01-01T10:00:00.000Z  OrderPlaced         ${ORDER_ID}:v1  2500 EUR`);
    expect(lines).toContain(
      '  (time not kept)           PaymentSucceeded    pay_1:SUCCEEDED  pay_1 SUCCEEDED 2500 EUR',
    );
  });

  it('shows the saga step by step, repeated failures once with their count, compensations marked', () => {
    // Act
    const lines = renderOrderStory(story);

    // Assess
    const saga = lines.slice(lines.indexOf(`SAGA fulfillment-${ORDER_ID}: FAILED`));
    expect(saga.slice(0, 10)).toEqual([
      `SAGA fulfillment-${ORDER_ID}: FAILED`,
      '  started 2026-01-01T10:01:05.000Z, stopped 2026-01-01T10:02:00.000Z, redriven 0 time(s)',
      '  error FulfillmentFailed: compensated after LogisticsUnavailableError',
      '  run 0 (first)',
      '    2026-01-01T10:01:06.000Z  PickGoods  failed after 3 attempts',
      '      LogisticsUnavailableError: warehouse 503 (2 times, last at 2026-01-01T10:01:07.000Z)',
      '      States.Timeout: no answer (at 2026-01-01T10:01:09.000Z)',
      '    2026-01-01T10:01:10.000Z  ReturnGoods [compensation]  succeeded after 1 attempt',
      '  ledger: warehouse-pick COMPENSATED (from ACTING)',
      '',
    ]);
  });

  it('lists the DLQ messages of the order, or says how many DLQs hold none', () => {
    // Act
    const withMessages = renderOrderStory(story);
    const without = renderOrderStory({ ...story, deadLetters: [], problems: [] });

    // Assess
    expect(withMessages.slice(-3)).toEqual([
      '  order-events-dlq.fifo: 1 message(s) of this order (of about 3)',
      `    m-1  group ${ORDER_ID}  receives 6  sent 2026-01-01T10:02:01.000Z`,
      '      {"type":"RefundRequested"}',
    ]);
    expect(without.at(-1)).toBe('  no message of this order in 2 DLQ(s) searched');
    expect(without).toContain('No problems found.');
  });

  it('says who learnt each payment fact, webhook or reconciliation or another source, and which record has none', () => {
    // Prepare
    const payment = (
      paymentId: string,
      status: Payment['status'],
      recordedBy?: PaymentFactSource,
    ): Payment => ({
      paymentId,
      orderId: ORDER_ID,
      status,
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:01:00.000Z',
      updatedAt: '2026-01-01T10:05:00.000Z',
      ...(recordedBy === undefined ? {} : { recordedBy }),
    });
    const payments = [
      payment('pi_checkout', 'PENDING', 'checkout'),
      payment('pi_webhook', 'SUCCEEDED', 'webhook'),
      payment('pi_reconciled', 'SUCCEEDED', 'reconciliation'),
      payment('pi_checked', 'CANCELLED', 'check-back'),
      payment('pi_saga', 'REFUND_PENDING', 'fulfilment'),
      payment('pi_old', 'FAILED'),
    ];

    // Act
    const lines = renderOrderStory({ ...story, payments });

    // Assess
    const section = lines.slice(
      lines.indexOf('PAYMENTS AND REFUNDS') + 1,
      lines.indexOf('PAYMENTS AND REFUNDS') + 7,
    );
    const times = 'created 2026-01-01T10:01:00.000Z, updated 2026-01-01T10:05:00.000Z';
    expect(section).toEqual([
      `  pi_checkout  PENDING  2500 EUR  ${times} by checkout`,
      `  pi_webhook  SUCCEEDED  2500 EUR  ${times} by webhook`,
      `  pi_reconciled  SUCCEEDED  2500 EUR  ${times} by reconciliation`,
      `  pi_checked  CANCELLED  2500 EUR  ${times} by check-back`,
      `  pi_saga  REFUND_PENDING  2500 EUR  ${times} by fulfilment`,
      `  pi_old  FAILED  2500 EUR  ${times} (source not recorded)`,
    ]);
  });

  it('says so when the table has no such order, and still shows the rest', () => {
    // Act
    const lines = renderOrderStory({ ...story, order: undefined, timeline: [], payments: [], events: [] });

    // Assess
    expect(lines[0]).toBe(`Order ${ORDER_ID}: not found in table orders`);
    expect(lines).toContain('PAYMENTS AND REFUNDS');
    expect(lines.slice(lines.indexOf('PAYMENTS AND REFUNDS') + 1)[0]).toBe('  (none)');
    expect(lines).toContain('  order-events-dlq.fifo: 1 message(s) of this order (of about 3)');
  });
});

describe('orderStoryJson', () => {
  it('gives every payment its source, null for a record written before sources were kept, and a missing order as null', () => {
    // Prepare
    const reconciled: Payment = {
      paymentId: 'pi_reconciled',
      orderId: ORDER_ID,
      status: 'SUCCEEDED',
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:01:00.000Z',
      updatedAt: '2026-01-01T10:05:00.000Z',
      recordedBy: 'reconciliation',
    };
    const [old] = story.payments;

    // Act
    const json = JSON.parse(
      JSON.stringify(
        orderStoryJson({ ...story, order: undefined, payments: [reconciled, ...story.payments] }),
      ),
    ) as { order: unknown; payments: { paymentId: string; recordedBy: unknown }[] };

    // Assess
    expect(json.order).toBeNull();
    expect(json.payments.map(({ paymentId, recordedBy }) => [paymentId, recordedBy])).toEqual([
      ['pi_reconciled', 'reconciliation'],
      [old?.paymentId, null],
    ]);
  });
});

describe('publishedEventsOf', () => {
  const placed: Order = {
    orderId: ORDER_ID,
    customerId: 'c-1',
    status: 'PENDING_PAYMENT',
    version: 1,
    currency: 'EUR',
    totalAmount: 2500,
    items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
    paymentDeadline: '2026-01-01T10:30:00.000Z',
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
  };
  const timelineOf = (...moves: [OrderStatus, string][]): OrderTransition[] =>
    [['PENDING_PAYMENT', placed.createdAt] as [OrderStatus, string], ...moves].map(
      ([to, at], index, all) => ({
        orderId: ORDER_ID,
        version: index + 1,
        from: index === 0 ? null : (all[index - 1]?.[0] ?? null),
        to,
        at,
        reason: 'test',
      }),
    );

  /** An order paid at 10:01 whose fulfilment failed at 10:02, with its timeline. */
  const failedFulfilment = (): { order: Order; timeline: OrderTransition[] } => ({
    order: { ...placed, status: 'FULFILLMENT_FAILED', version: 4, updatedAt: '2026-01-01T10:02:00.000Z' },
    timeline: timelineOf(
      ['PAID', '2026-01-01T10:01:00.000Z'],
      ['FULFILLING', '2026-01-01T10:01:01.000Z'],
      ['FULFILLMENT_FAILED', '2026-01-01T10:02:00.000Z'],
    ),
  });

  const cancelledOrder = (): { order: Order; timeline: OrderTransition[] } => ({
    order: { ...placed, status: 'CANCELLED', version: 2, updatedAt: '2026-01-01T10:30:00.000Z' },
    timeline: timelineOf(['CANCELLED', '2026-01-01T10:30:00.000Z']),
  });

  it("derives what the relay published for a failed fulfilment, the refund's earlier statuses timed by the order", () => {
    // Prepare
    const { order, timeline } = failedFulfilment();
    const refunded = {
      paymentId: 'pay_1',
      orderId: ORDER_ID,
      status: 'REFUNDED',
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:01:00.000Z',
      updatedAt: '2026-01-01T10:03:00.000Z',
      refundReason: 'FULFILLMENT_FAILED',
    } as const;

    // Act
    const events = publishedEventsOf(order, timeline, [refunded]);

    // Assess
    expect(events.map((event) => [event.occurredAt, event.type, event.eventId, event.detail])).toEqual([
      [
        '2026-01-01T10:00:00.000Z',
        'OrderPlaced',
        `${ORDER_ID}:v1`,
        '2500 EUR, pay by 2026-01-01T10:30:00.000Z',
      ],
      ['2026-01-01T10:01:00.000Z', 'OrderStatusChanged', `${ORDER_ID}:v2`, 'PENDING_PAYMENT -> PAID'],
      ['2026-01-01T10:01:00.000Z', 'PaymentSucceeded', 'pay_1:SUCCEEDED', 'pay_1 SUCCEEDED 2500 EUR'],
      ['2026-01-01T10:01:01.000Z', 'OrderStatusChanged', `${ORDER_ID}:v3`, 'PAID -> FULFILLING'],
      [
        '2026-01-01T10:02:00.000Z',
        'OrderStatusChanged',
        `${ORDER_ID}:v4`,
        'FULFILLING -> FULFILLMENT_FAILED',
      ],
      [
        '2026-01-01T10:02:00.000Z',
        'RefundRequested',
        'pay_1:REFUND_PENDING',
        'pay_1 REFUND_PENDING 2500 EUR (FULFILLMENT_FAILED)',
      ],
      [
        '2026-01-01T10:03:00.000Z',
        'PaymentRefunded',
        'pay_1:REFUNDED',
        'pay_1 REFUNDED 2500 EUR (FULFILLMENT_FAILED)',
      ],
    ]);
  });

  it("leaves the time of a late payment's refund request open once it is refunded, and an intent announces nothing", () => {
    // Prepare
    const { order, timeline } = cancelledOrder();
    const base = { orderId: ORDER_ID, amount: 2500, currency: 'EUR', createdAt: '2026-01-01T10:05:00.000Z' };
    const late = {
      ...base,
      paymentId: 'pay_late',
      status: 'REFUNDED',
      updatedAt: '2026-01-01T10:31:00.000Z',
      refundReason: 'ORDER_CANCELLED',
    } as const;
    const intent = {
      ...base,
      paymentId: 'pay_intent',
      status: 'PENDING',
      updatedAt: base.createdAt,
    } as const;

    // Act
    const events = publishedEventsOf(order, timeline, [intent, late]);

    // Assess
    expect(events.map((event) => [event.occurredAt, event.type, event.eventId])).toEqual([
      ['2026-01-01T10:00:00.000Z', 'OrderPlaced', `${ORDER_ID}:v1`],
      ['2026-01-01T10:30:00.000Z', 'OrderStatusChanged', `${ORDER_ID}:v2`],
      [undefined, 'RefundRequested', 'pay_late:REFUND_PENDING'],
      ['2026-01-01T10:31:00.000Z', 'PaymentRefunded', 'pay_late:REFUNDED'],
    ]);
  });

  it('derives no event from an intent cancelled at the provider: the order cancelled is the event', () => {
    // Prepare
    const { order, timeline } = cancelledOrder();
    const cancelled: Payment = {
      paymentId: 'pi_closed',
      orderId: ORDER_ID,
      status: 'CANCELLED',
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:05:00.000Z',
      updatedAt: '2026-01-01T10:30:00.000Z',
      recordedBy: 'check-back',
    };

    // Act
    const events = publishedEventsOf(order, timeline, [cancelled]);

    // Assess
    expect(events.map((event) => [event.type, event.eventId])).toEqual([
      ['OrderPlaced', `${ORDER_ID}:v1`],
      ['OrderStatusChanged', `${ORDER_ID}:v2`],
    ]);
  });

  it('times a refund request by the FULFILLMENT_FAILED transition only when that failure caused it', () => {
    // Prepare
    const { order, timeline } = failedFulfilment();
    const second = {
      paymentId: 'pay_2',
      orderId: ORDER_ID,
      status: 'REFUNDED',
      amount: 2500,
      currency: 'EUR',
      createdAt: '2026-01-01T10:04:00.000Z',
      updatedAt: '2026-01-01T10:05:00.000Z',
      refundReason: 'ORDER_ALREADY_PAID',
    } as const;

    // Act
    const events = publishedEventsOf(order, timeline, [second]);

    // Assess
    expect(
      events
        .filter((event) => event.eventId.startsWith('pay_2'))
        .map((event) => [event.occurredAt, event.type]),
    ).toEqual([
      [undefined, 'RefundRequested'],
      ['2026-01-01T10:05:00.000Z', 'PaymentRefunded'],
    ]);
  });
});

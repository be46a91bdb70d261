import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ENTITY, toPayment } from '../adapters/dynamodb-table';
import { getPaymentProvider, logger } from '../composition-root';
import { type Payment, PaymentStatus } from '../domain/payment';

const processor = new BatchProcessor(EventType.DynamoDBStreams);

type Image = Record<string, AttributeValue> | undefined;

function paymentIn(image: Image): Payment | undefined {
  if (image === undefined) return undefined;
  // The stream's AttributeValue type and the SDK's differ only in how they spell the union.
  const item = unmarshall(image as Parameters<typeof unmarshall>[0]);
  return item.entityType === ENTITY.payment ? toPayment(item) : undefined;
}

/** The moment a payment starts owing a refund: it is REFUND_PENDING now and was not before. */
export function refundOwed(record: DynamoDBRecord): Payment | undefined {
  const now = paymentIn(record.dynamodb?.NewImage);
  const before = paymentIn(record.dynamodb?.OldImage);
  if (now?.status !== PaymentStatus.REFUND_PENDING || before?.status === PaymentStatus.REFUND_PENDING) {
    return undefined;
  }
  return now;
}

/**
 * Requests the refund of every payment that became REFUND_PENDING, from the table's stream: the refund is
 * asked for because the payment record committed, never otherwise. The provider dedupes on the idempotency key
 * (`refund-<paymentId>`), so stream retries and redeliveries refund once. A failed request is reported as a
 * batch item failure and retried by the event source.
 */
async function refundPayments(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  return await processPartialResponse(
    event,
    async (record: DynamoDBRecord) => {
      const payment = refundOwed(record);
      if (payment === undefined) return;
      const refund = await getPaymentProvider().refund(
        { paymentId: payment.paymentId, amount: payment.amount, currency: payment.currency },
        `refund-${payment.paymentId}`,
      );
      logger.info('refund requested', {
        orderId: payment.orderId,
        paymentId: payment.paymentId,
        refundId: refund.refundId,
        reason: payment.refundReason,
      });
    },
    processor,
  );
}

export const handler = middy(refundPayments).use(injectLambdaContext(logger, { resetKeys: true }));

import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { OrderStatus } from '../../functions/domain/order-status';
import { isRoutine, outcomeKeys } from '../../functions/queue/order-events-consumer';
import { loggingProps } from '../../lib/constructs/model-function';

describe('what an order event line says of its outcome', () => {
  it('names the kind and only the facts the order and the event do not say', () => {
    // Act
    const lines = [
      outcomeKeys({ kind: 'fulfillmentStarted', orderId: 'o-1', movedToFulfilling: true, saga: 'started' }),
      outcomeKeys({ kind: 'staleEvent', orderId: 'o-1', status: OrderStatus.CANCELLED }),
      outcomeKeys({ kind: 'refundRequested', orderId: 'o-1', paymentId: 'pi_1', refundId: 're_1' }),
      outcomeKeys({ kind: 'notForThisConsumer', orderId: 'o-1', type: 'OrderPlaced' }),
    ];

    // Assess
    expect(lines).toEqual([
      { outcome: 'fulfillmentStarted', saga: 'started', movedToFulfilling: true },
      { outcome: 'staleEvent', orderStatus: OrderStatus.CANCELLED },
      { outcome: 'refundRequested', paymentId: 'pi_1', refundId: 're_1' },
      { outcome: 'notForThisConsumer' },
    ]);
  });
});

describe('which order event outcomes are routine (DEBUG) and which an operator sees at INFO', () => {
  it('is routine only for a first saga start and for events other consumers act on', () => {
    // Act
    const routine = [
      isRoutine({ kind: 'fulfillmentStarted', orderId: 'o-1', movedToFulfilling: true, saga: 'started' }),
      isRoutine({ kind: 'notForThisConsumer', orderId: 'o-1', type: 'OrderPlaced' }),
    ];
    const notRoutine = [
      isRoutine({ kind: 'fulfillmentStarted', orderId: 'o-1', movedToFulfilling: false, saga: 'started' }),
      isRoutine({
        kind: 'fulfillmentStarted',
        orderId: 'o-1',
        movedToFulfilling: true,
        saga: 'alreadyStarted',
      }),
      isRoutine({ kind: 'staleEvent', orderId: 'o-1', status: OrderStatus.CANCELLED }),
      isRoutine({ kind: 'refundRequested', orderId: 'o-1', paymentId: 'pi_1', refundId: 're_1' }),
    ];

    // Assess
    expect(routine).toEqual([true, true]);
    expect(notRoutine).toEqual([false, false, false, false]);
  });
});

describe('the Lambda logging properties of a logging declaration', () => {
  it('sets levels only with the JSON format, where Lambda filters by them', () => {
    // Act
    const text = loggingProps({ format: 'TEXT' });
    const json = loggingProps({ format: 'JSON', applicationLevel: 'DEBUG', systemLevel: 'INFO' });

    // Assess
    expect(text).toEqual({ loggingFormat: lambda.LoggingFormat.TEXT });
    expect(json).toEqual({
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.DEBUG,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
    });
  });
});

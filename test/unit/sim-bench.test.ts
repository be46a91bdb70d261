import { describe, expect, it } from 'vitest';
import { orderPathDynamodb } from '../../lib/sim/bench';

const usage = (requests: number, writeCapacityUnits: number) => ({
  requests,
  readCapacityUnits: 0,
  writeCapacityUnits,
});

describe('the order path DynamoDB figure of the benchmark', () => {
  it('counts the functions an order runs through, per order, and leaves out the observer and the clocked functions', () => {
    const figure = orderPathDynamodb(
      {
        'DynamoDB:PutItem@create-order': usage(20, 30),
        'DynamoDB:UpdateItem@payment-webhook': usage(10, 20),
        'DynamoDB:Query@get-order': usage(25, 0),
        'DynamoDB:Query@sweeper': usage(13, 0),
        'DynamoDB:Query@payment-reconciler': usage(7, 0),
        'SQS:SendMessage@logistics-webhook': usage(33, 0),
      },
      10,
    );

    expect(figure).toEqual({ requests: 3, writeUnits: 5 });
  });

  it('is zero for a run without orders', () => {
    expect(orderPathDynamodb({ 'DynamoDB:PutItem@create-order': usage(1, 1) }, 0)).toEqual({
      requests: 0,
      writeUnits: 0,
    });
  });
});

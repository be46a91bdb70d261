import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { leaseStoreContract } from '../support/contracts/lease-store-contract';
import { orderRepositoryContract } from '../support/contracts/order-repository-contract';
import { paymentRepositoryContract } from '../support/contracts/payment-repository-contract';
import { describeContract, type StoreSubject, T0 } from '../support/contracts/subject';
import { createTestTables } from '../support/dynamodb';
import { ManualClock, orderIds } from '../support/payment-window';

/** The DynamoDB adapters on tables of their own per check, since the indexes are read whole. */
async function dynamoDbSubject(): Promise<StoreSubject> {
  const tables = await createTestTables();
  const clock = new ManualClock(T0);
  const client = tables.documentClient;
  const tableName = tables.ordersTableName;
  return {
    orders: new DynamoDbOrderRepository({
      client,
      tableName,
      pendingIndexName: PENDING_PAYMENT_INDEX.name,
      now: () => clock.now(),
    }),
    payments: new DynamoDbPaymentRepository({ client, tableName }),
    leases: new DynamoDbLeaseStore({ client, tableName }),
    clock,
    newOrderId: orderIds('01DYNAMO'),
  };
}

describeContract('the DynamoDB order repository', orderRepositoryContract, dynamoDbSubject);
describeContract('the DynamoDB lease store', leaseStoreContract, dynamoDbSubject);
describeContract('the DynamoDB payment repository', paymentRepositoryContract, dynamoDbSubject);

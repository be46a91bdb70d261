import { DynamoDbSagaLedgerStore } from '../adapters/dynamodb-saga-ledger';
import { HttpTransport } from '../adapters/http-transport';
import { HttpWarehouse } from '../adapters/http-warehouse';
import {
  documentClient,
  once,
  orderRepository,
  ordersConfig,
  paymentRepository,
  systemClock,
} from '../composition-root';
import { loadConfig } from '../config';
import {
  FulfillmentOrders,
  FulfillmentOutcomes,
  TransportParticipant,
  WarehouseParticipant,
} from '../domain/fulfillment-service';
import { SagaLedger } from '../domain/saga-ledger';

/**
 * What only the fulfilment saga's participants use, built once per execution environment and on first use,
 * so that `warehouse-pick` needs no transport settings and `fulfillment-outcome` no logistics settings at all.
 */

export const sagaLedger = once(
  () =>
    new SagaLedger({
      store: new DynamoDbSagaLedgerStore({
        client: documentClient(),
        tableName: ordersConfig().ORDERS_TABLE_NAME,
      }),
      now: () => systemClock.now(),
    }),
);

export const fulfillmentOrders = once(
  () => new FulfillmentOrders({ ledger: sagaLedger(), orders: orderRepository(), clock: systemClock }),
);

export const warehouseParticipant = once(
  () =>
    new WarehouseParticipant({
      ledger: sagaLedger(),
      warehouse: new HttpWarehouse({ baseUrl: loadConfig('warehouse', process.env).WAREHOUSE_API_URL }),
    }),
);

export const transportParticipant = once(
  () =>
    new TransportParticipant({
      ledger: sagaLedger(),
      transport: new HttpTransport({ baseUrl: loadConfig('transport', process.env).TRANSPORT_API_URL }),
    }),
);

export const fulfillmentOutcomes = once(
  () =>
    new FulfillmentOutcomes({
      orders: orderRepository(),
      payments: paymentRepository(),
      clock: systemClock,
    }),
);

import * as z from 'zod/mini';
import type { ShipmentReceipt, Transport } from '../domain/fulfillment-ports';
import { type HttpLogisticsOptions, postLogistics } from './http-warehouse';

/**
 * {@link Transport} over the transport provider's REST API, with the warehouse's conventions (see
 * `http-warehouse.ts` for the error mapping):
 *
 * - `POST /v1/shipments` with `Idempotency-Key: <key>` and `{ orderId }` -> 200 `{ shipmentId, trackingNumber }`;
 *   a repeat replays the first answer; 409 `cancelled` when the shipment's cancellation was recorded first.
 * - `POST /v1/cancellations` with `{ orderId, shipmentKey }` -> 200 `{ status: 'cancelled' | 'tombstoned' }`;
 *   idempotent.
 */

const shipmentAnswer = z.object({
  shipmentId: z.string().check(z.minLength(1)),
  trackingNumber: z.string().check(z.minLength(1)),
});
const cancellationAnswer = z.object({ status: z.enum(['cancelled', 'tombstoned']) });

export class HttpTransport implements Transport {
  public constructor(private readonly options: HttpLogisticsOptions) {}

  public async ship(orderId: string, idempotencyKey: string): Promise<ShipmentReceipt> {
    const answer = await postLogistics('transport', this.options, {
      path: '/v1/shipments',
      body: { orderId },
      idempotencyKey,
      schema: shipmentAnswer,
    });
    return { shipmentId: answer.shipmentId, trackingNumber: answer.trackingNumber };
  }

  public async cancel(orderId: string, idempotencyKey: string): Promise<void> {
    await postLogistics('transport', this.options, {
      path: '/v1/cancellations',
      body: { orderId, shipmentKey: idempotencyKey },
      schema: cancellationAnswer,
    });
  }
}

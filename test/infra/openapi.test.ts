import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ORDER_LIMITS, SKU_PATTERN } from '../../functions/domain/order';
import { ORDER_STATUSES } from '../../functions/domain/order-status';
import { PAYMENT_STATUSES } from '../../functions/domain/payment';
import { INTERNAL_ERROR_CODE, PROBLEM_STATUS } from '../../functions/http/problem-details';
import { appModel } from '../../lib/model';

interface Operation {
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly responses: Record<string, unknown>;
  readonly 'x-throttle'?: unknown;
}

interface Bounds {
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly pattern?: string;
  readonly 'x-maxTotalAmount'?: number;
}

interface OpenApi {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: {
    readonly securitySchemes: Record<string, { readonly type: string; readonly scheme?: string }>;
    readonly schemas: {
      readonly OrderItem: { readonly properties: Record<'sku' | 'quantity' | 'unitPrice', Bounds> };
      readonly CreateOrderRequest: { readonly properties: { readonly items: Bounds } };
      readonly Order: { readonly properties: { readonly totalAmount: Bounds } };
      readonly OrderStatus: { readonly enum: string[] };
      readonly PaymentStatus: { readonly enum: string[] };
      readonly Problem: { readonly properties: { readonly code: { readonly enum: string[] } } };
    };
  };
}

const document = JSON.parse(
  await readFile(new URL('../../docs/openapi.json', import.meta.url), 'utf8'),
) as OpenApi;

describe('docs/openapi.json', () => {
  it('describes exactly the HTTP routes the model declares', () => {
    const declared = appModel.functions
      .flatMap((declaration) => declaration.triggers)
      .flatMap((trigger) => (trigger.type === 'http' ? [`${trigger.method} ${trigger.path}`] : []))
      .sort();
    const described = Object.entries(document.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();

    expect(described).toEqual(declared);
  });

  it('lists every order and payment status', () => {
    expect(document.components.schemas.OrderStatus.enum.sort()).toEqual([...ORDER_STATUSES].sort());
    expect(document.components.schemas.PaymentStatus.enum.sort()).toEqual([...PAYMENT_STATUSES].sort());
  });

  it('lists every error code an HTTP handler can answer with', () => {
    // A code whose status is 500 is answered as INTERNAL_ERROR, never by its own name.
    const answered = [
      ...Object.entries(PROBLEM_STATUS).flatMap(([code, status]) => (status === 500 ? [] : [code])),
      INTERNAL_ERROR_CODE,
    ];

    expect(document.components.schemas.Problem.properties.code.enum.sort()).toEqual(answered.sort());
  });

  it('states the order limits the domain enforces', () => {
    const { OrderItem, CreateOrderRequest, Order } = document.components.schemas;

    expect(OrderItem.properties.sku).toMatchObject({
      minLength: 1,
      maxLength: ORDER_LIMITS.maxSkuLength,
      pattern: SKU_PATTERN.source,
    });
    expect(OrderItem.properties.quantity).toMatchObject({
      minimum: ORDER_LIMITS.minQuantity,
      maximum: ORDER_LIMITS.maxQuantity,
    });
    expect(OrderItem.properties.unitPrice).toMatchObject({
      minimum: ORDER_LIMITS.minUnitPrice,
      maximum: ORDER_LIMITS.maxUnitPrice,
    });
    expect(CreateOrderRequest.properties.items).toMatchObject({
      minItems: ORDER_LIMITS.minItems,
      maxItems: ORDER_LIMITS.maxItems,
      'x-maxTotalAmount': ORDER_LIMITS.maxTotalAmount,
    });
    expect(Order.properties.totalAmount).toMatchObject({ maximum: ORDER_LIMITS.maxTotalAmount });
  });

  it('requires the customer bearer JWT on exactly the routes the model declares for customers', () => {
    const triggers = appModel.functions
      .flatMap((declaration) => declaration.triggers)
      .flatMap((trigger) => (trigger.type === 'http' ? [trigger] : []));

    expect(document.components.securitySchemes.customerJwt).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const trigger of triggers) {
      const operation = document.paths[trigger.path]?.[trigger.method.toLowerCase()];
      const route = `${trigger.method} ${trigger.path}`;
      if (trigger.authorization === 'customer') {
        expect(operation?.security, route).toEqual([{ customerJwt: [] }]);
        expect(operation?.responses, route).toHaveProperty('401');
      } else {
        expect(operation?.security, route).toEqual([]);
      }
    }
  });

  it('states the throttling the model declares for each route', () => {
    for (const declaration of appModel.functions) {
      for (const trigger of declaration.triggers) {
        if (trigger.type !== 'http') continue;
        const operation = document.paths[trigger.path]?.[trigger.method.toLowerCase()];

        expect(operation?.['x-throttle'], `${trigger.method} ${trigger.path}`).toEqual(trigger.throttle);
      }
    }
  });
});

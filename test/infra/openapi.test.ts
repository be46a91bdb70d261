import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DomainErrorCode } from '../../functions/domain/errors';
import { ORDER_STATUSES } from '../../functions/domain/order-status';
import { HttpErrorCode } from '../../functions/http/errors';
import { appModel } from '../../lib/model';

interface OpenApi {
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: {
    readonly schemas: {
      readonly OrderStatus: { readonly enum: string[] };
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

  it('lists every order status and every error code the code can answer with', () => {
    expect(document.components.schemas.OrderStatus.enum.sort()).toEqual([...ORDER_STATUSES].sort());
    expect(document.components.schemas.Problem.properties.code.enum.sort()).toEqual(
      [...Object.values(DomainErrorCode), ...Object.values(HttpErrorCode), 'INTERNAL_ERROR'].sort(),
    );
  });
});

import { describe, expect, it } from 'vitest';
import {
  attributeValueBytes,
  itemBytes,
  transactionWriteUnits,
} from '../../lib/local/runtime/transaction-capacity';

function body(items: readonly Record<string, unknown>[]): string {
  return JSON.stringify({ TransactItems: items });
}

describe('the item size DynamoDB counts', () => {
  it('counts names and UTF-8 strings by their bytes', () => {
    expect(itemBytes({ PK: { S: 'ORDER#1' }, é: { S: 'ü' } })).toBe(2 + 7 + 2 + 2);
  });

  it('counts a number by its significant digits, about one byte per two, plus one', () => {
    expect(attributeValueBytes({ N: '12345' })).toBe(4);
    expect(attributeValueBytes({ N: '-0.5' })).toBe(2);
  });

  it('counts lists and maps with their 3 bytes of overhead and 1 per element', () => {
    expect(attributeValueBytes({ L: [{ S: 'ab' }, { BOOL: true }] })).toBe(3 + 1 + 2 + 1 + 1);
    expect(attributeValueBytes({ M: { a: { S: 'xyz' } } })).toBe(3 + 1 + 3);
  });

  it('counts binary values by their decoded bytes and sets by their members', () => {
    expect(attributeValueBytes({ B: Buffer.from('hello').toString('base64') })).toBe(5);
    expect(attributeValueBytes({ SS: ['a', 'bc'] })).toBe(3);
  });
});

describe('the write units of a transaction', () => {
  it('bills two units per started KB of every item it puts', () => {
    const small = { Put: { TableName: 't', Item: { PK: { S: 'a' } } } };
    const large = { Put: { TableName: 't', Item: { PK: { S: 'b' }, body: { S: 'x'.repeat(1500) } } } };

    expect(transactionWriteUnits(body([small, small, small]))).toBe(6);
    expect(transactionWriteUnits(body([small, large]))).toBe(2 + 4);
  });

  it('counts an update, a delete or a condition check as at least one KB, the stored size not being known', () => {
    const update = { Update: { TableName: 't', Key: { PK: { S: 'a' } }, UpdateExpression: 'SET x = :x' } };
    const check = { ConditionCheck: { TableName: 't', Key: { PK: { S: 'b' } }, ConditionExpression: 'x' } };
    const remove = { Delete: { TableName: 't', Key: { PK: { S: 'c' } } } };

    expect(transactionWriteUnits(body([update, check, remove]))).toBe(6);
  });

  it('is zero for a body without transaction items', () => {
    expect(transactionWriteUnits('{}')).toBe(0);
  });
});

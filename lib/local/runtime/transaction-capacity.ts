/**
 * The write units a `TransactWriteItems` call costs in DynamoDB, from its request as it goes on the wire.
 *
 * DynamoDB bills each item of a transaction twice (prepare and commit), per started KB of the item. DynamoDB
 * Local reports less: it adds up the distinct per-item values, so five small items come back as 2 units instead
 * of 10 (measured in `test/integration/transaction-capacity.test.ts`). The meter therefore counts the larger of
 * Local's answer and this one. A `Put` is sized from its item; an `Update`, `Delete` or `ConditionCheck` counts
 * one KB, because the stored item's size is not in the request, so for items over 1 KB this is a lower bound.
 */

/** A DynamoDB attribute value in the JSON protocol's shape (`{"S": "..."}`, `{"M": {...}}`, ...). */
export type WireAttributeValue = Readonly<Record<string, unknown>>;

const BYTES_PER_WRITE_UNIT = 1024;
const TRANSACTIONAL_FACTOR = 2;

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** A number's stored size: about one byte per two significant digits, plus one. */
function numberBytes(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function base64Bytes(text: string): number {
  return Buffer.from(text, 'base64').length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** The size DynamoDB counts for one attribute value (its name not included). */
export function attributeValueBytes(value: WireAttributeValue): number {
  if (typeof value.S === 'string') return utf8Bytes(value.S);
  if (typeof value.N === 'string') return numberBytes(value.N);
  if (typeof value.B === 'string') return base64Bytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return strings(value.SS).reduce((sum, text) => sum + utf8Bytes(text), 0);
  if (value.NS !== undefined) return strings(value.NS).reduce((sum, text) => sum + numberBytes(text), 0);
  if (value.BS !== undefined) return strings(value.BS).reduce((sum, text) => sum + base64Bytes(text), 0);
  if (Array.isArray(value.L)) {
    return value.L.reduce<number>(
      (sum, element) => sum + 1 + (isRecord(element) ? attributeValueBytes(element) : 0),
      3,
    );
  }
  if (isRecord(value.M)) return 3 + itemBytes(value.M);
  return 0;
}

/** The size DynamoDB counts for an item: each attribute's name and value. */
export function itemBytes(item: Readonly<Record<string, unknown>>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + utf8Bytes(name) + (isRecord(value) ? attributeValueBytes(value) : 0),
    0,
  );
}

/** Write units DynamoDB bills for a `TransactWriteItems` request body (JSON protocol), per the rules above. */
export function transactionWriteUnits(requestBody: string): number {
  const parsed: unknown = JSON.parse(requestBody);
  const items = isRecord(parsed) && Array.isArray(parsed.TransactItems) ? parsed.TransactItems : [];
  return items.reduce<number>((sum, action) => {
    const put = isRecord(action) && isRecord(action.Put) ? action.Put : undefined;
    const bytes = put !== undefined && isRecord(put.Item) ? itemBytes(put.Item) : BYTES_PER_WRITE_UNIT;
    return sum + TRANSACTIONAL_FACTOR * Math.max(1, Math.ceil(bytes / BYTES_PER_WRITE_UNIT));
  }, 0);
}

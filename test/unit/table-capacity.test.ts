import { describe, expect, it } from 'vitest';
import { TableCapacityError, tableCapacityFrom } from '../../lib/constructs/model-table';

describe('tableCapacityFrom (CDK context)', () => {
  it('is on-demand when nothing is set', () => {
    expect(tableCapacityFrom({})).toEqual({ mode: 'ON_DEMAND' });
    expect(tableCapacityFrom({ tableCapacity: 'ON_DEMAND' })).toEqual({ mode: 'ON_DEMAND' });
  });

  it('reads provisioned capacity as write and read ranges', () => {
    expect(
      tableCapacityFrom({
        tableCapacity: 'PROVISIONED',
        tableWriteCapacity: '5-2000',
        tableReadCapacity: ' 1-1 ',
      }),
    ).toEqual({ mode: 'PROVISIONED', write: { min: 5, max: 2000 }, read: { min: 1, max: 1 } });
  });

  it.each([
    [{ tableCapacity: 'provisioned' }, /tableCapacity must be ON_DEMAND or PROVISIONED/],
    [{ tableCapacity: 'PROVISIONED', tableReadCapacity: '5-10' }, /tableWriteCapacity must be/],
    [{ tableCapacity: 'PROVISIONED', tableWriteCapacity: '5-10' }, /tableReadCapacity must be/],
    [{ tableCapacity: 'PROVISIONED', tableWriteCapacity: '10-5', tableReadCapacity: '5-10' }, /min <= max/],
    [{ tableCapacity: 'PROVISIONED', tableWriteCapacity: '0-5', tableReadCapacity: '5-10' }, /1 <= min/],
    [{ tableCapacity: 'PROVISIONED', tableWriteCapacity: '5', tableReadCapacity: '5-10' }, /not 5$/],
    [{ tableCapacity: 'PROVISIONED', tableWriteCapacity: 5, tableReadCapacity: '5-10' }, /not 5$/],
    [{ tableWriteCapacity: '5-10' }, /apply to tableCapacity=PROVISIONED only/],
  ])('refuses %j', (settings, message) => {
    expect(() => tableCapacityFrom(settings)).toThrow(TableCapacityError);
    expect(() => tableCapacityFrom(settings)).toThrow(message);
  });
});

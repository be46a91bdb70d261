import { FunctionHost } from '../../lib/local/function-host';
import type { FaultOptions } from '../../lib/local/sdk-instrumentation';
import type { TestTables } from './dynamodb';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * A function host running one fixture function (`entry`, relative to the repository) with its SDK pointed at the
 * test tables (`TABLE_NAME` is the orders table), one environment, and the given faults if any.
 */
export function tableFunctionHost(
  tables: TestTables,
  name: string,
  entry: string,
  faults?: FaultOptions,
): FunctionHost {
  return new FunctionHost({
    functions: [
      {
        declaration: {
          name,
          entry,
          memoryMb: 128,
          timeoutSeconds: 10,
          triggers: [],
          environment: {},
          access: {},
        },
        environment: {
          TABLE_NAME: tables.ordersTableName,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_DYNAMODB: tables.endpoint,
        },
      },
    ],
    rootDir: ROOT,
    region: 'us-east-1',
    accountId: '000000000000',
    maxConcurrency: 1,
    ...(faults === undefined ? {} : { faults }),
  });
}

import { afterAll, afterEach, beforeAll } from 'vitest';
import { FunctionHost } from '../../lib/local/runtime/function-host';
import type { FaultOptions } from '../../lib/local/runtime/sdk-instrumentation';
import { createTestTables, type TestTables } from './dynamodb';

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

export interface TableFunctionHosts {
  /** The test file's tables (available from its first test on). */
  tables(): TestTables;
  /** Starts a host for one fixture function; it is stopped after the test. */
  start(name: string, entry: string, faults?: FaultOptions): FunctionHost;
}

/** Registers the test file's hooks: its own tables, and one fixture-function host per test, stopped after it. */
export function useTableFunctionHosts(): TableFunctionHosts {
  let tables: TestTables | undefined;
  let host: FunctionHost | undefined;
  beforeAll(async () => {
    tables = await createTestTables();
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });
  afterAll(() => {
    tables?.client.destroy();
  });
  const created = (): TestTables => {
    if (tables === undefined) throw new Error('the test tables exist only once the file has started');
    return tables;
  };
  return {
    tables: created,
    start: (name, entry, faults) => {
      host = tableFunctionHost(created(), name, entry, faults);
      return host;
    },
  };
}

import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../lib/local/aws/dynamodb-local';

declare module 'vitest' {
  export interface ProvidedContext {
    /** One DynamoDB Local for the test files that need only a table; each file creates its own tables. */
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  return async () => {
    await dynamodb.stop();
  };
}

import { TEST_CREDENTIALS } from './dynamodb';

/** The region and account tests start the local AWS stand-ins with. */
export const TEST_REGION = 'us-east-1';
export const TEST_ACCOUNT = '123456789012';

/** What an AWS SDK client needs to reach a local stand-in at `endpoint`. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS };
}

import type { SQSClient } from '@aws-sdk/client-sqs';

/**
 * Where SQS queue URLs should point, shared by the local runtime (`lib/local/aws/resources.ts`) and the ops CLI
 * (`lib/ops/dlq.ts`), which runs against AWS as well as against the local system.
 *
 * It exists because emulators such as fauxqs answer with queue URLs on hosts like `sqs.<region>.localhost` that
 * do not resolve everywhere, and the SDK sends a request to the host of the queue URL it is given, not to the
 * client's endpoint, when that endpoint comes from the environment. So a queue URL an emulator returns is rebased
 * onto the client's endpoint before it is used. Against AWS no endpoint is configured and URLs stay as they are.
 */

/**
 * The origin (`protocol//host[:port]`) of the SQS endpoint the client talks to: its `endpoint` option, else
 * `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL`; `undefined` when none is set (the AWS default endpoints).
 */
export async function sqsEndpointOrigin(client: SQSClient): Promise<string | undefined> {
  const configured = await client.config.endpoint?.();
  if (configured !== undefined) {
    const port = configured.port === undefined ? '' : `:${configured.port}`;
    return `${configured.protocol}//${configured.hostname}${port}`;
  }
  const fromEnvironment = process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
  return fromEnvironment === undefined || fromEnvironment === ''
    ? undefined
    : new URL(fromEnvironment).origin;
}

/** `url` with its origin replaced by `origin` (path kept), or `url` itself when there is no origin to use. */
export function rebaseQueueUrl(url: string, origin: string | undefined): string {
  return origin === undefined ? url : `${origin}${new URL(url).pathname}`;
}

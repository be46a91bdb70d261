import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
  type Output,
} from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { type LoopbackServer, readBodyBytes, startLoopbackServer } from '../local/http';
import { FULFILLMENT_SAGA, ORDERS_TABLE } from '../model';
import { DEFAULT_STACK_NAME, pascalCase } from '../naming';
import { type ConsoleTarget, opsConsoleBackend } from './ops-backend';
import { type ConsoleHandler, createConsoleHandler } from './server';

/**
 * `npm run console`: the operations console against a deployed stack, on the operator's own machine. The stack's
 * outputs name what it reads, the operator's credentials are what it acts with, and it listens on loopback only:
 * it is never deployed.
 */

export const CONSOLE_USAGE = 'usage: npm run console -- --region <region> [--stack <name>] [--port <port>]';

/** Where the console listens unless `--port` says otherwise: next to `npm start`'s 3000, not on it. */
export const DEFAULT_CONSOLE_PORT = 3100;

/** Stable codes of `npm run console`'s errors. */
export const ConsoleCliErrorCode = {
  USAGE: 'CONSOLE_USAGE',
  STACK_NOT_FOUND: 'CONSOLE_STACK_NOT_FOUND',
  STACK_OUTPUT_MISSING: 'CONSOLE_STACK_OUTPUT_MISSING',
  NO_CREDENTIALS: 'CONSOLE_NO_CREDENTIALS',
} as const;

export type ConsoleCliErrorCode = (typeof ConsoleCliErrorCode)[keyof typeof ConsoleCliErrorCode];

export abstract class ConsoleCliError extends Error {
  public abstract readonly code: ConsoleCliErrorCode;
}

export class ConsoleUsageError extends ConsoleCliError {
  public override readonly name = 'ConsoleUsageError';
  public readonly code = ConsoleCliErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${CONSOLE_USAGE}`);
  }
}

export class StackNotFoundError extends ConsoleCliError {
  public override readonly name = 'StackNotFoundError';
  public readonly code = ConsoleCliErrorCode.STACK_NOT_FOUND;

  public constructor(
    public readonly stackName: string,
    public readonly region: string,
    options?: ErrorOptions,
  ) {
    super(`no stack ${stackName} in ${region} (deployed under another name? --stack <name>)`, options);
  }
}

export class StackOutputMissingError extends ConsoleCliError {
  public override readonly name = 'StackOutputMissingError';
  public readonly code = ConsoleCliErrorCode.STACK_OUTPUT_MISSING;

  public constructor(
    public readonly stackName: string,
    public readonly outputKeys: readonly string[],
  ) {
    super(
      `stack ${stackName} has no output ${outputKeys.join(', ')}: is it this project's stack, deployed whole?`,
    );
  }
}

/** The SDK found no credentials, or AWS refused the ones it found. */
export class ConsoleCredentialsError extends ConsoleCliError {
  public override readonly name = 'ConsoleCredentialsError';
  public readonly code = ConsoleCliErrorCode.NO_CREDENTIALS;

  public constructor(detail: string, options?: ErrorOptions) {
    super(
      `${detail}; the console acts with your own AWS credentials (AWS_PROFILE, aws sso login, or the AWS_* variables)`,
      options,
    );
  }
}

export type ConsoleArgs =
  | { readonly help: true }
  | { readonly help: false; readonly region: string; readonly stackName: string; readonly port: number };

/** The words after `npm run console --`. */
export function parseConsoleArgs(argv: readonly string[]): ConsoleArgs {
  let values: { region?: string; stack?: string; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        region: { type: 'string' },
        stack: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // parseArgs throws plain TypeErrors (unknown option, missing value, stray argument): usage mistakes.
    if (error instanceof TypeError) throw new ConsoleUsageError(error.message);
    throw error;
  }
  if (values.help === true) return { help: true };
  if (values.region === undefined || values.region === '')
    throw new ConsoleUsageError('--region is required');
  if (values.stack === '') throw new ConsoleUsageError('--stack needs a name');
  return {
    help: false,
    region: values.region,
    stackName: values.stack ?? DEFAULT_STACK_NAME,
    port: portOf(values.port),
  };
}

function portOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONSOLE_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new ConsoleUsageError(`--port must be a whole number from 0 to 65535, not ${text}`);
  }
  return port;
}

/** The stack outputs the console reads, under the names `lib/stack.ts` gives them. */
export const CONSOLE_STACK_OUTPUTS = {
  tableName: `${pascalCase(ORDERS_TABLE)}TableName`,
  stateMachineArn: `${pascalCase(FULFILLMENT_SAGA)}StateMachineArn`,
} as const;

export interface ConsoleStackNames {
  readonly tableName: string;
  readonly stateMachineArn: string;
}

/** The orders table and the saga's state machine among a stack's outputs; all missing ones are named at once. */
export function consoleStackNames(stackName: string, outputs: readonly Output[]): ConsoleStackNames {
  // An empty value names nothing either.
  const outputNamed = (key: string) =>
    outputs.find((output) => output.OutputKey === key)?.OutputValue || undefined;
  const tableName = outputNamed(CONSOLE_STACK_OUTPUTS.tableName);
  const stateMachineArn = outputNamed(CONSOLE_STACK_OUTPUTS.stateMachineArn);
  if (tableName === undefined || stateMachineArn === undefined) {
    const missing = Object.values(CONSOLE_STACK_OUTPUTS).filter((key) => outputNamed(key) === undefined);
    throw new StackOutputMissingError(stackName, missing);
  }
  return { tableName, stateMachineArn };
}

/** The SDK's verdicts on credentials: none found, or refused by AWS. */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
]);

/** A credentials failure as {@link ConsoleCredentialsError}; anything else as it came. */
export function credentialsFailure(error: unknown): unknown {
  if (error instanceof Error && CREDENTIAL_ERRORS.has(error.name)) {
    return new ConsoleCredentialsError(`${error.name}: ${error.message}`, { cause: error });
  }
  return error;
}

/** What DescribeStacks' failure means: CloudFormation answers a ValidationError for a stack it does not have. */
export function describeStacksFailure(error: unknown, stackName: string, region: string): unknown {
  if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
    return new StackNotFoundError(stackName, region, { cause: error });
  }
  return credentialsFailure(error);
}

/** The stack's outputs, read with the operator's credentials. */
export async function readStackOutputs(
  cloudformation: CloudFormationClient,
  stackName: string,
): Promise<readonly Output[]> {
  const region = await cloudformation.config.region();
  let described: DescribeStacksCommandOutput;
  try {
    described = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    throw describeStacksFailure(error, stackName, region);
  }
  const stack = described.Stacks?.[0];
  if (stack === undefined) throw new StackNotFoundError(stackName, region);
  return stack.Outputs ?? [];
}

/** Who the operator is, as the action log names them: the ARN of their credentials' identity. */
export async function operatorArn(sts: STSClient): Promise<string> {
  let arn: string | undefined;
  try {
    ({ Arn: arn } = await sts.send(new GetCallerIdentityCommand({})));
  } catch (error) {
    throw credentialsFailure(error);
  }
  if (arn === undefined) throw new ConsoleCredentialsError('GetCallerIdentity answered no ARN');
  return arn;
}

/** A form's body is a few hundred bytes; anything near this is not the console's. */
const MAX_BODY_BYTES = 64 * 1024;

class BodyTooLargeError extends Error {}

function consoleRequestHandler(handler: ConsoleHandler) {
  return async (request: IncomingMessage, response: ServerResponse) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname === '/') {
      request.resume();
      response.writeHead(302, { location: '/console' }).end();
      return;
    }
    let body: Buffer;
    try {
      body = await readBodyBytes(request, MAX_BODY_BYTES, () => new BodyTooLargeError());
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      response.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end();
      return;
    }
    await handler(request, response, body);
  };
}

export interface ConsoleServerOptions {
  readonly target: ConsoleTarget;
  /** Named in the action log as who did each action. */
  readonly operator: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Receives the action log, one JSON line per action. */
  readonly log: (line: string) => void;
}

export interface ConsoleServer extends LoopbackServer {
  /** The overview page. */
  readonly consoleUrl: string;
}

/** Serves the console over `target` on 127.0.0.1; `/` leads to the overview, the console answers the rest. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const handler = createConsoleHandler({
    backend: opsConsoleBackend(options.target),
    operator: async () => options.operator,
    log: options.log,
  });
  const server = await startLoopbackServer(
    consoleRequestHandler(handler),
    options.port,
    (error, response) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`The console failed: ${error instanceof Error ? error.message : String(error)}\n`);
    },
  );
  return { ...server, consoleUrl: `${server.url}/console` };
}

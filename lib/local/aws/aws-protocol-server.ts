import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  type JsonObject,
  LocalServerError,
  parseJsonBody,
  type RequestHandler,
  readBody,
  writeJson,
} from '../http';

/**
 * What the AWS stand-ins (EventBridge, Step Functions, Scheduler, the Cognito user pool) add to the HTTP toolkit
 * (`../http.ts`): answering JSON with the headers the SDK expects, AWS's wording of validation errors, and the
 * whole request cycle of the `X-Amz-Target` JSON protocols (AWS JSON 1.0 and 1.1).
 *
 * Each stand-in keeps its own error codes; the helpers here only ever raise errors a stand-in hands them (its
 * error class, or a factory), so what reaches a client is what that stand-in would answer on its own.
 */

/** The parts of a stand-in's API error that go on the wire. */
export interface AwsApiErrorShape extends Error {
  readonly code: string;
  readonly statusCode: number;
}

/**
 * An API call a stand-in refuses, answered with the AWS error shape of the same `code` and `statusCode`; a
 * stand-in narrows `Code` to the error types its API answers with.
 */
/** A time as the AWS JSON protocols send timestamps: seconds since the epoch, with a fraction. */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

export class AwsApiError<Code extends string = string> extends LocalServerError {
  public override readonly name: string = 'AwsApiError';
  public readonly statusCode: number;

  public constructor(code: Code, message: string, statusCode = 400) {
    super(code, message);
    this.statusCode = statusCode;
  }
}

/** The codes a {@link jsonTargetHandler} itself refuses a request with, before the stand-in sees it. */
export type JsonTargetRefusalCode =
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'ValidationException';

/** How one stand-in speaks an `X-Amz-Target` JSON protocol. */
export interface JsonTargetProtocol {
  /** The target prefix, dot included, e.g. `AWSEvents.`; the rest of the header is the operation name. */
  readonly targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`: the protocol version the service's SDK client speaks. */
  readonly contentType: string;
  readonly maxRequestBytes: number;
  /** The `__type` answered for an unexpected failure, which differs per service (`InternalFailure`, ...). */
  readonly internalErrorType: string;
  /**
   * The stand-in's API error class: refusals made here are built with it, and what it throws of that class is
   * answered with its code and status. Any other error is answered as a 500 `internalErrorType`.
   */
  readonly apiError: new (
    code: JsonTargetRefusalCode,
    message: string,
  ) => AwsApiErrorShape;
}

/** Runs one operation; throws (or rejects with) the stand-in's API error to refuse it. */
export type JsonTargetDispatch = (operation: string, body: unknown) => JsonObject | Promise<JsonObject>;

/**
 * The request handler of an `X-Amz-Target` JSON protocol: each request is a POST whose target names the operation
 * and whose body is its JSON input. Refusals become `{ __type, message }` with the error's status, the shape the
 * SDK parses into its exception classes.
 */
export function jsonTargetHandler(
  protocol: JsonTargetProtocol,
  dispatch: JsonTargetDispatch,
): RequestHandler {
  return (request, response) => handleJsonTargetRequest(protocol, dispatch, request, response);
}

async function handleJsonTargetRequest(
  protocol: JsonTargetProtocol,
  dispatch: JsonTargetDispatch,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(protocol.targetPrefix)
        ? target.slice(protocol.targetPrefix.length)
        : '';
    if (request.method !== 'POST' || operation === '') {
      throw new protocol.apiError(
        'UnknownOperationException',
        `Expected a POST with X-Amz-Target ${protocol.targetPrefix}<Operation>`,
      );
    }
    const text = await readBody(
      request,
      protocol.maxRequestBytes,
      () => new protocol.apiError('ValidationException', 'The request body is too large'),
    );
    const body = parseJsonBody(
      text,
      () => new protocol.apiError('SerializationException', 'The request body is not valid JSON'),
    );
    sendJson(response, 200, await dispatch(operation, body), protocol.contentType);
  } catch (error) {
    if (error instanceof protocol.apiError) {
      sendJson(
        response,
        error.statusCode,
        { __type: error.code, message: error.message },
        protocol.contentType,
      );
      return;
    }
    sendJson(
      response,
      500,
      { __type: protocol.internalErrorType, message: error instanceof Error ? error.message : String(error) },
      protocol.contentType,
    );
  }
}

/**
 * `body` checked against `schema`; a mismatch throws `invalid(message)` with AWS's wording of validation errors,
 * one `Value at '<path>' failed to satisfy constraint` per issue.
 */
export function validateInput<T>(
  schema: z.ZodType<T>,
  body: unknown,
  invalid: (message: string) => Error,
): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const detail = result.error.issues
      .map((issue) => `Value at '${issue.path.join('.')}' failed to satisfy constraint: ${issue.message}`)
      .join('; ');
    throw invalid(`${result.error.issues.length} validation error(s) detected: ${detail}`);
  }
  return result.data;
}

/**
 * Sends `body` as JSON with a fresh `x-amzn-requestid`, which the SDK reads into `$metadata.requestId`.
 * `extraHeaders` go after the standard ones, e.g. REST-JSON's `x-amzn-errortype`.
 */
export function sendJson(
  response: ServerResponse,
  statusCode: number,
  body: JsonObject,
  contentType: string,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  writeJson(response, statusCode, body, {
    'content-type': contentType,
    'x-amzn-requestid': randomUUID(),
    ...extraHeaders,
  });
}

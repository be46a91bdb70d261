import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { OrderNotFoundError, ValidationError } from '../domain/errors';
import { ORDER_ID_PATTERN, parseWith } from '../domain/validation';
import { verifySignature } from '../domain/webhook-signature';
import {
  MalformedJsonError,
  PayloadTooLargeError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
} from './errors';

export const MAX_BODY_BYTES = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

/** API Gateway passes header names in lower case for payload format 2.0; we look them up the same way. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

function bodyBytes(event: APIGatewayProxyEventV2): Buffer {
  if (event.body === undefined || event.body === null) {
    return Buffer.alloc(0);
  }
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) {
    return false;
  }
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  const charsetIsUtf8 = parameters.every(
    (parameter) => !parameter.startsWith('charset=') || parameter === 'charset=utf-8',
  );
  return JSON_MEDIA_TYPE.test(mediaType) && charsetIsUtf8;
}

/**
 * The body exactly as received, for signature checks (never re-serialize JSON before verifying it). Over
 * 16 KiB is refused before it is read further.
 */
export function rawBody(event: APIGatewayProxyEventV2): string {
  const bytes = bodyBytes(event);
  if (bytes.length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(MAX_BODY_BYTES, bytes.length);
  }
  return bytes.toString('utf8');
}

/**
 * Reads a JSON request body in the order a caller's mistakes should be reported: size (413), media type (415),
 * syntax (400 MALFORMED_JSON), then shape (400 VALIDATION_FAILED).
 */
export function parseJsonBody<Schema extends z.core.$ZodType>(
  event: APIGatewayProxyEventV2,
  schema: Schema,
): z.output<Schema> {
  const bytes = bodyBytes(event);
  if (bytes.length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(MAX_BODY_BYTES, bytes.length);
  }
  const contentType = header(event, 'content-type');
  if (!isJsonContentType(contentType)) {
    throw new UnsupportedMediaTypeError(contentType);
  }
  return parseJsonText(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), schema);
}

/**
 * The body of a signed webhook: the signature in `headerName` is checked against the exact bytes received
 * before anything else is read (401, nothing written), then the JSON (400 MALFORMED_JSON) and its shape (400
 * VALIDATION_FAILED).
 */
export function parseSignedJsonBody<Schema extends z.core.$ZodType>(
  event: APIGatewayProxyEventV2,
  options: {
    readonly headerName: string;
    readonly secret: string;
    readonly schema: Schema;
    readonly now: Date;
  },
): z.output<Schema> {
  const body = rawBody(event);
  verifySignature({
    header: header(event, options.headerName),
    headerName: options.headerName,
    rawBody: body,
    secret: options.secret,
    now: options.now,
  });
  return parseJsonText(() => body, options.schema);
}

/** Text that is not JSON (or not UTF-8) is the envelope's fault (MALFORMED_JSON); a JSON shape, the domain's. */
function parseJsonText<Schema extends z.core.$ZodType>(text: () => string, schema: Schema): z.output<Schema> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text());
  } catch (error) {
    throw new MalformedJsonError({ cause: error });
  }
  return parseWith(schema, parsed, (issues) => new ValidationError(issues));
}

/** An order id that is not even well formed cannot name an order: answer as for any unknown order. */
export function orderIdParameter(event: APIGatewayProxyEventV2): string {
  const orderId = event.pathParameters?.orderId ?? '';
  if (!ORDER_ID_PATTERN.test(orderId)) {
    throw new OrderNotFoundError(orderId.slice(0, 64));
  }
  return orderId;
}

/** The part of a request context an HTTP API JWT authorizer fills in; checked, not trusted to be there. */
const jwtAuthorizerContext = z.object({
  authorizer: z.object({ jwt: z.object({ claims: z.object({ sub: z.string().check(z.minLength(1)) }) }) }),
});

/**
 * The customer a request acts for: the `sub` claim of the token the route's JWT authorizer verified (at
 * `requestContext.authorizer.jwt.claims`), never anything the body says.
 */
export function customerIdOf(event: APIGatewayProxyEventV2): string {
  const context = parseWith(jwtAuthorizerContext, event.requestContext, () => new UnauthenticatedError());
  return context.authorizer.jwt.claims.sub;
}

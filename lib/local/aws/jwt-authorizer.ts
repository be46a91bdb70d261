import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';

/** What API Gateway passes to the integration of a route a JWT authorizer let through. */
export interface JwtAuthorizerContext {
  readonly principalId: string;
  readonly integrationLatency: number;
  readonly jwt: {
    /** Every claim of the token, as API Gateway passes them: scalars as strings, arrays as `[a b]`. */
    readonly claims: Readonly<Record<string, string>>;
    readonly scopes: readonly string[];
  };
}

export type AuthorizerDecision =
  | { readonly allowed: true; readonly context: JwtAuthorizerContext }
  /** `challenge` is the `WWW-Authenticate` value of the 401. */
  | { readonly allowed: false; readonly challenge: string };

/** The local stand-in for an HTTP API JWT authorizer, consulted by the gateway for `customer` routes. */
export interface JwtAuthorizer {
  authorize(authorizationHeader: string | undefined): Promise<AuthorizerDecision>;
}

export interface JwtAuthorizerOptions {
  /** The `iss` a token must carry. */
  readonly issuer: string;
  /** A token's `aud` (or, without `aud`, its `client_id`) must be one of these. */
  readonly audience: readonly string[];
  /** The issuer's published key set, which the signature is checked against. */
  readonly jwks: JSONWebKeySet;
  readonly now?: () => Date;
}

/** API Gateway's JWT authorizers accept RSA signatures only; anything else (`none`, HS256, ES256) is refused. */
const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

const BEARER_PREFIX = /^Bearer +/i;

function refused(description?: string): AuthorizerDecision {
  // The shape of the challenges API Gateway sends: the scheme alone when no token came, else invalid_token.
  return {
    allowed: false,
    challenge:
      description === undefined
        ? 'Bearer scope="" error="invalid_token"'
        : `Bearer scope="" error="invalid_token" error_description="${description}"`,
  };
}

function claimAsString(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(claimAsString).join(' ')}]`;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function audienceMatches(payload: JWTPayload, audience: readonly string[]): boolean {
  // API Gateway checks client_id (Cognito access tokens) only when the token has no aud.
  if (payload.aud !== undefined) {
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    return audiences.some((value) => audience.includes(value));
  }
  return typeof payload.client_id === 'string' && audience.includes(payload.client_id);
}

/**
 * Validates a bearer token as API Gateway's JWT authorizer documents it: the token alone or after `Bearer`; an
 * RSA signature by a key of the issuer's JWKS named by the token's `kid`; `iss` equal to the issuer; `aud` (or
 * `client_id`) among the audiences; `exp` present and in the future; `nbf` and `iat`, if present, not in the
 * future. The signature check is jose's (`jwtVerify` with an algorithm allow-list); the audience rule is ours
 * because jose knows nothing of the `client_id` fallback.
 */
export function createJwtAuthorizer(options: JwtAuthorizerOptions): JwtAuthorizer {
  const keys = createLocalJWKSet(options.jwks);
  const now = options.now ?? (() => new Date());
  return {
    authorize: async (authorizationHeader) => {
      const token = authorizationHeader?.replace(BEARER_PREFIX, '').trim() ?? '';
      if (token.length === 0) return { allowed: false, challenge: 'Bearer' };
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        return refused();
      }
      if (typeof header.kid !== 'string') return refused();
      const currentDate = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: ACCEPTED_ALGORITHMS,
          issuer: options.issuer,
          requiredClaims: ['exp'],
          currentDate,
        }));
      } catch (error) {
        return refused(error instanceof errors.JWTExpired ? 'the token has expired' : undefined);
      }
      if (!audienceMatches(payload, options.audience)) {
        return refused('the token does not have a valid audience');
      }
      if (payload.iat !== undefined && payload.iat * 1000 > currentDate.getTime()) return refused();
      return {
        allowed: true,
        context: {
          principalId: '',
          integrationLatency: 0,
          jwt: {
            claims: Object.fromEntries(
              Object.entries(payload).map(([name, value]) => [name, claimAsString(value)]),
            ),
            scopes: [],
          },
        },
      };
    },
  };
}

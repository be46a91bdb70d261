import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWTPayload, SignJWT } from 'jose';
import { z } from 'zod';
import type { LocalRoute } from './gateway';
import { createJwtAuthorizer, type JwtAuthorizer } from './jwt-authorizer';

/** The path under the gateway where the local issuer lives; its issuer URL is `<gateway url>` + this. */
export const LOCAL_ISSUER_PATH = '/_local/auth';

/** The `aud` of local tokens: the local stand-in for the Cognito app client's id. */
export const LOCAL_AUDIENCE = 'order-backbone-local';

const SIGNING_ALGORITHM = 'RS256';

export interface LocalIssuerOptions {
  /** The gateway the issuer lives under; its issuer URL is this plus {@link LOCAL_ISSUER_PATH}. */
  readonly gatewayUrl: string;
  /** How long a token from {@link LocalIssuer.tokenFor} is valid. Default 3600 s, Cognito's default. */
  readonly tokenLifetimeSeconds?: number;
  readonly now?: () => Date;
}

/**
 * An OpenID Connect issuer for the local system, standing in for the Cognito user pool: an RS256 key pair made
 * at start (never written anywhere), its JWKS and discovery document under `/_local/auth`, and tokens for any
 * customer id on request, since locally there are no passwords to check.
 */
export interface LocalIssuer {
  /** `<gateway url>/_local/auth`. */
  readonly issuer: string;
  readonly audience: string;
  readonly tokenLifetimeSeconds: number;
  /** A token for customer `sub`, valid for the configured lifetime. */
  tokenFor(sub: string): Promise<string>;
  /**
   * A token with `claims` plus what every token of this issuer carries: `iss`, `iat`, `exp` (the configured
   * lifetime) and a fresh `jti`. The local user pool mints its Cognito-shaped tokens with it.
   */
  issue(claims: JWTPayload): Promise<string>;
  /** Signs exactly these claims with the issuer's key (no defaults added), for tokens off the beaten path. */
  sign(claims: JWTPayload): Promise<string>;
  /** The public keys, as served at `/_local/auth/.well-known/jwks.json`. */
  readonly jwks: JSONWebKeySet;
  /** Verifies tokens as the stack's JWT authorizer does, against this issuer's JWKS and audience. */
  readonly authorizer: JwtAuthorizer;
  localRoutes(): LocalRoute[];
}

/** A customer id: printable ASCII without spaces, bounded like the order's `customerId`. */
const tokenRequest = z.strictObject({
  sub: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'must be 1 to 128 printable ASCII characters without spaces'),
});

export async function createLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  if (!Number.isInteger(tokenLifetimeSeconds) || tokenLifetimeSeconds < 1) {
    throw new Error(
      `the token lifetime must be a whole number of seconds, at least 1, not ${tokenLifetimeSeconds}`,
    );
  }
  const now = options.now ?? (() => new Date());
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM);
  const kid = randomUUID();
  const jwks: JSONWebKeySet = {
    keys: [{ ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALGORITHM, use: 'sig' }],
  };
  const issuer = `${options.gatewayUrl}${LOCAL_ISSUER_PATH}`;
  const sign = (claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: 'JWT' }).sign(privateKey);
  const issue = (claims: JWTPayload) => {
    const issuedAt = Math.floor(now().getTime() / 1000);
    return sign({
      ...claims,
      iss: issuer,
      iat: issuedAt,
      exp: issuedAt + tokenLifetimeSeconds,
      jti: randomUUID(),
    });
  };
  const tokenFor = (sub: string) => issue({ aud: LOCAL_AUDIENCE, sub });
  const authorizer = createJwtAuthorizer({ issuer, audience: [LOCAL_AUDIENCE], jwks, now });

  return {
    issuer,
    audience: LOCAL_AUDIENCE,
    tokenLifetimeSeconds,
    tokenFor,
    issue,
    sign,
    jwks,
    authorizer,
    localRoutes: () => [
      {
        method: 'GET',
        path: `${LOCAL_ISSUER_PATH}/.well-known/jwks.json`,
        handle: async () => ({ statusCode: 200, body: jwks }),
      },
      {
        method: 'GET',
        path: `${LOCAL_ISSUER_PATH}/.well-known/openid-configuration`,
        handle: async () => ({
          statusCode: 200,
          body: {
            issuer: issuer,
            jwks_uri: `${issuer}/.well-known/jwks.json`,
            token_endpoint: `${issuer}/token`,
            response_types_supported: ['token'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: [SIGNING_ALGORITHM],
          },
        }),
      },
      {
        method: 'POST',
        path: `${LOCAL_ISSUER_PATH}/token`,
        handle: async ({ body }) => {
          const request = tokenRequest.safeParse(body);
          if (!request.success) {
            return {
              statusCode: 400,
              body: { message: 'send {"sub": "<customer id>"}', errors: z.flattenError(request.error) },
            };
          }
          return {
            statusCode: 200,
            body: { token: await tokenFor(request.data.sub), expiresIn: tokenLifetimeSeconds },
          };
        },
      },
    ],
  };
}

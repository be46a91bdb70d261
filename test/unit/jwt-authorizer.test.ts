import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthorizer } from '../../lib/local/aws/jwt-authorizer';
import { createLocalIssuer, type LocalIssuer } from '../../lib/local/aws/local-issuer';

const NOW = new Date('2026-11-28T10:00:00Z');
const nowSeconds = NOW.getTime() / 1000;

let issuer: LocalIssuer;

beforeAll(async () => {
  issuer = await createLocalIssuer({
    gatewayUrl: 'http://127.0.0.1:3000',
    tokenLifetimeSeconds: 60,
    now: () => NOW,
  });
});

function claims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer.issuer,
    aud: issuer.audience,
    sub: 'c-1',
    iat: nowSeconds,
    exp: nowSeconds + 60,
    ...overrides,
  };
}

async function decide(token: string) {
  return await issuer.authorizer.authorize(`Bearer ${token}`);
}

describe('the local JWT authorizer', () => {
  it('accepts a token from the local issuer and passes its claims as strings, arrays as [a b]', async () => {
    const token = await issuer.sign(claims({ 'cognito:groups': ['admin', 'buyer'], email_verified: true }));

    const decision = await decide(token);

    expect(decision).toMatchObject({
      allowed: true,
      context: {
        jwt: {
          claims: {
            sub: 'c-1',
            exp: String(nowSeconds + 60),
            'cognito:groups': '[admin buyer]',
            email_verified: 'true',
          },
        },
      },
    });
  });

  it('accepts an audience list that holds its audience, and client_id only when aud is absent', async () => {
    const { aud: _, ...withoutAudience } = claims();

    const list = await decide(await issuer.sign(claims({ aud: ['other', issuer.audience] })));
    const clientId = await decide(await issuer.sign({ ...withoutAudience, client_id: issuer.audience }));
    const audWins = await decide(await issuer.sign(claims({ aud: 'other', client_id: issuer.audience })));

    expect(list.allowed).toBe(true);
    expect(clientId.allowed).toBe(true);
    expect(audWins).toEqual({
      allowed: false,
      challenge:
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"',
    });
  });

  it('says when a token has expired, and refuses one issued in the future', async () => {
    const expired = await decide(await issuer.sign(claims({ iat: nowSeconds - 120, exp: nowSeconds - 60 })));
    const future = await decide(await issuer.sign(claims({ iat: nowSeconds + 600, exp: nowSeconds + 900 })));

    expect(expired).toEqual({
      allowed: false,
      challenge: 'Bearer scope="" error="invalid_token" error_description="the token has expired"',
    });
    expect(future.allowed).toBe(false);
  });

  it('refuses a token without kid even when its signature verifies against the only key of the JWKS', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const authorizer = createJwtAuthorizer({
      issuer: 'https://issuer.test',
      audience: ['api'],
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] },
      now: () => NOW,
    });
    const payload = claims({ iss: 'https://issuer.test', aud: 'api' });
    const sign = (header: { alg: string; kid?: string }) =>
      new SignJWT(payload).setProtectedHeader(header).sign(privateKey);

    const withKid = await authorizer.authorize(`Bearer ${await sign({ alg: 'RS256', kid: 'k1' })}`);
    const withoutKid = await authorizer.authorize(`Bearer ${await sign({ alg: 'RS256' })}`);

    expect(withKid.allowed).toBe(true);
    expect(withoutKid.allowed).toBe(false);
  });

  it('challenges a request without a token with the bare scheme', async () => {
    expect(await issuer.authorizer.authorize(undefined)).toEqual({ allowed: false, challenge: 'Bearer' });
  });

  it('mints tokens for a customer with the configured lifetime', async () => {
    const token = await issuer.tokenFor('c-9');

    const decision = await decide(token);

    expect(decision).toMatchObject({
      allowed: true,
      context: { jwt: { claims: { sub: 'c-9', iat: String(nowSeconds), exp: String(nowSeconds + 60) } } },
    });
  });
});

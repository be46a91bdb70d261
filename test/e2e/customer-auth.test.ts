import { createPublicKey } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { base64url, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { fetchAs, nowSeconds, validClaimsFor } from '../support/auth';
import { localClientConfig } from '../support/local-aws';
import { startTestSystem } from '../support/local-system';
import { intentsOf } from '../support/stripe';

let system: LocalSystem;
let dynamodb: DynamoDBClient;
/** The local issuer's published signing key, as anyone can fetch it. */
let publishedKey: JWK;

const order = { currency: 'EUR', items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }] };

beforeAll(async () => {
  system = await startTestSystem({ settings: { PAYMENT_TIMEOUT_SECONDS: '120' } });
  dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
  const jwks = (await (await fetch(`${system.url}/_local/auth/.well-known/jwks.json`)).json()) as {
    keys: JWK[];
  };
  const [key] = jwks.keys;
  if (key === undefined) throw new Error('the local issuer publishes no key');
  publishedKey = key;
});

afterAll(async () => {
  dynamodb?.destroy();
  await system?.stop();
});

async function storedItemCount(): Promise<number> {
  const { Count } = await dynamodb.send(new ScanCommand({ TableName: 'orders', Select: 'COUNT' }));
  return Count ?? 0;
}

const claimsFor = (sub: string): JWTPayload => validClaimsFor(system, sub);

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

async function postOrder(authorization: string | undefined, body: unknown = order) {
  const response = await fetch(`${system.url}/orders`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const badTokens: readonly {
  readonly name: string;
  readonly authorization: () => Promise<string | undefined>;
}[] = [
  { name: 'no token', authorization: async () => undefined },
  { name: 'an empty bearer', authorization: async () => 'Bearer ' },
  { name: 'a token that is no JWT', authorization: async () => 'Bearer not-a-jwt' },
  {
    name: 'an expired token',
    authorization: async () =>
      `Bearer ${await system.auth.sign({ ...claimsFor('mallory'), iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })}`,
  },
  {
    name: 'a token without exp',
    authorization: async () => {
      const { exp: _, ...claims } = claimsFor('mallory');
      return `Bearer ${await system.auth.sign(claims)}`;
    },
  },
  {
    name: 'a token not yet valid',
    authorization: async () =>
      `Bearer ${await system.auth.sign({ ...claimsFor('mallory'), nbf: nowSeconds() + 600 })}`,
  },
  {
    name: 'the wrong issuer',
    authorization: async () =>
      `Bearer ${await system.auth.sign({ ...claimsFor('mallory'), iss: 'https://issuer.example.com' })}`,
  },
  {
    name: 'the wrong audience',
    authorization: async () =>
      `Bearer ${await system.auth.sign({ ...claimsFor('mallory'), aud: 'another-client' })}`,
  },
  {
    name: 'a signature by another key under the published kid',
    authorization: async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const token = await new SignJWT(claimsFor('mallory'))
        .setProtectedHeader({ alg: 'RS256', kid: publishedKey.kid ?? '' })
        .sign(privateKey);
      return `Bearer ${token}`;
    },
  },
  {
    name: 'a tampered payload',
    authorization: async () => {
      const [header, , signature] = (await system.auth.tokenFor('alice')).split('.');
      return `Bearer ${header}.${encodeSegment(claimsFor('mallory'))}.${signature}`;
    },
  },
  {
    name: 'alg none',
    authorization: async () =>
      `Bearer ${encodeSegment({ alg: 'none', typ: 'JWT', kid: publishedKey.kid })}.${encodeSegment(claimsFor('mallory'))}.`,
  },
  {
    name: 'HS256 signed with the public key as secret',
    authorization: async () => {
      const pem = createPublicKey({ key: { ...publishedKey }, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      const token = await new SignJWT(claimsFor('mallory'))
        .setProtectedHeader({ alg: 'HS256', kid: publishedKey.kid ?? '' })
        .sign(new TextEncoder().encode(String(pem)));
      return `Bearer ${token}`;
    },
  },
];

describe('the local gateway verifies customer tokens as the JWT authorizer does', () => {
  it.each(badTokens)('refuses $name with 401 and writes nothing', async ({ authorization }) => {
    const before = await storedItemCount();

    const answer = await postOrder(await authorization());

    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ message: 'Unauthorized' });
    expect(answer.challenge).toMatch(/^Bearer/);
    expect(await storedItemCount()).toBe(before);
  });

  it('accepts a valid token, and a Cognito access token that names its client in client_id instead of aud', async () => {
    const { aud: _, ...accessTokenClaims } = claimsFor('carol');

    const idToken = await postOrder(`Bearer ${await system.auth.tokenFor('carol')}`);
    const accessToken = await postOrder(
      `Bearer ${await system.auth.sign({ ...accessTokenClaims, client_id: system.auth.audience, token_use: 'access' })}`,
    );
    const bareToken = await postOrder(await system.auth.tokenFor('carol'));

    expect(idToken).toMatchObject({ status: 201, body: { customerId: 'carol' } });
    expect(accessToken).toMatchObject({ status: 201, body: { customerId: 'carol' } });
    expect(bareToken).toMatchObject({ status: 201, body: { customerId: 'carol' } });
  });

  it('refuses every order route without a token, and leaves the webhooks to their signatures', async () => {
    const orderId = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

    const answers = await Promise.all(
      [
        ['GET', `/orders/${orderId}`],
        ['POST', `/orders/${orderId}/cancel`],
        ['POST', `/orders/${orderId}/payments`],
      ].map(async ([method, path]) => (await fetch(`${system.url}${path}`, { method })).status),
    );
    const webhook = await fetch(`${system.url}/webhooks/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });

    expect(answers).toEqual([401, 401, 401]);
    expect(webhook.status).toBe(401);
    expect(webhook.headers.get('content-type')).toBe('application/problem+json');
    expect(((await webhook.json()) as { code: string }).code).toBe('INVALID_SIGNATURE');
  });
});

describe("one customer and another's order", () => {
  it("answers B reading, cancelling or paying A's order exactly as for an unknown order, and changes nothing", async () => {
    const created = await fetchAs(system, 'alice', '/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
    });
    const { orderId } = (await created.json()) as { orderId: string };
    const before = await (await fetchAs(system, 'alice', `/orders/${orderId}`)).json();
    const itemsBefore = await storedItemCount();
    const unknown = await (await fetchAs(system, 'bob', '/orders/01JZZZZZZZZZZZZZZZZZZZZZZZ')).json();

    const read = await fetchAs(system, 'bob', `/orders/${orderId}`);
    const cancel = await fetchAs(system, 'bob', `/orders/${orderId}/cancel`, { method: 'POST' });
    const pay = await fetchAs(system, 'bob', `/orders/${orderId}/payments`, { method: 'POST' });

    expect(created.status).toBe(201);
    for (const answer of [read, cancel, pay]) {
      expect(answer.status).toBe(404);
      const problem = (await answer.json()) as Record<string, unknown>;
      expect({ ...problem, detail: undefined }).toEqual({ ...(unknown as object), detail: undefined });
      expect(problem.detail).toBe(`order ${orderId} does not exist`);
    }
    expect(await storedItemCount()).toBe(itemsBefore);
    expect(await (await fetchAs(system, 'alice', `/orders/${orderId}`)).json()).toEqual(before);
    expect(intentsOf(system, orderId)).toEqual([]);
  });

  it('lets A pay and cancel their own order', async () => {
    const place = () =>
      fetchAs(system, 'alice', '/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(order),
      });
    const toPay = ((await (await place()).json()) as { orderId: string }).orderId;
    const toCancel = ((await (await place()).json()) as { orderId: string }).orderId;

    const pay = await fetchAs(system, 'alice', `/orders/${toPay}/payments`, { method: 'POST' });
    const cancel = await fetchAs(system, 'alice', `/orders/${toCancel}/cancel`, { method: 'POST' });

    expect(pay.status).toBe(201);
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { status: string }).status).toBe('CANCELLED');
  });

  it('refuses with 403 an order whose customerId is not the token subject, writing nothing', async () => {
    const before = await storedItemCount();

    const answer = await postOrder(`Bearer ${await system.auth.tokenFor('alice')}`, {
      ...order,
      customerId: 'bob',
    });

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ status: 403, code: 'CUSTOMER_MISMATCH' });
    expect(await storedItemCount()).toBe(before);
  });
});

describe('the local issuer', () => {
  it('hands out a token for a customer at POST /_local/auth/token, and refuses a request without a sub', async () => {
    const minted = await fetch(`${system.url}/_local/auth/token`, {
      method: 'POST',
      body: JSON.stringify({ sub: 'c-1' }),
    });
    const { token } = (await minted.json()) as { token: string };
    const missing = await fetch(`${system.url}/_local/auth/token`, { method: 'POST', body: '{}' });
    const spaced = await fetch(`${system.url}/_local/auth/token`, {
      method: 'POST',
      body: JSON.stringify({ sub: 'c 1' }),
    });

    const placed = await postOrder(`Bearer ${token}`);

    expect(minted.status).toBe(200);
    expect(placed).toMatchObject({ status: 201, body: { customerId: 'c-1' } });
    expect(missing.status).toBe(400);
    expect(spaced.status).toBe(400);
  });

  it('publishes its discovery document and only the public half of its RSA key', async () => {
    const discovery = (await (
      await fetch(`${system.url}/_local/auth/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;

    expect(discovery).toMatchObject({
      issuer: `${system.url}/_local/auth`,
      jwks_uri: `${system.url}/_local/auth/.well-known/jwks.json`,
    });
    expect(publishedKey).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(publishedKey).not.toHaveProperty('d');
  });
});

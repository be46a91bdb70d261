import type { JWTPayload } from 'jose';
import type { LocalIssuer } from '../../lib/local/aws/local-issuer';
import type { LocalSystem } from '../../lib/local/runtime/local-system';

/** What a test needs of a local system to act as a customer. */
export type CustomerEndpoint = Pick<LocalSystem, 'url' | 'auth'>;

export interface CustomerRequestInit extends Omit<RequestInit, 'headers'> {
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Tokens already minted, per issuer and customer. Signing RS256 costs a millisecond or two of the test's own
 * thread; tests that send hundreds of requests inside a payment window of a few seconds cannot spend that on
 * every request, so a token is reused for half its lifetime, as a shop front reuses it.
 */
const minted = new WeakMap<LocalIssuer, Map<string, { readonly token: string; readonly renewAt: number }>>();

async function tokenOf(issuer: LocalIssuer, customer: string): Promise<string> {
  let tokens = minted.get(issuer);
  if (tokens === undefined) {
    tokens = new Map();
    minted.set(issuer, tokens);
  }
  const cached = tokens.get(customer);
  if (cached !== undefined && Date.now() < cached.renewAt) return cached.token;
  const token = await issuer.tokenFor(customer);
  tokens.set(customer, { token, renewAt: Date.now() + (issuer.tokenLifetimeSeconds * 1000) / 2 });
  return token;
}

/** The `authorization` header of a request by `customer`, with a token from the system's local issuer. */
export async function bearerFor(system: CustomerEndpoint, customer: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenOf(system.auth, customer)}` };
}

/** `fetch(system.url + path)` as `customer`, the way a signed-in shop front calls the API. */
export async function fetchAs(
  system: CustomerEndpoint,
  customer: string,
  path: string,
  init: CustomerRequestInit = {},
): Promise<Response> {
  return await fetch(`${system.url}${path}`, {
    ...init,
    headers: { ...init.headers, ...(await bearerFor(system, customer)) },
  });
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The claims of a valid token for `sub` from the system's local issuer; each bad-token case changes one thing. */
export function validClaimsFor(system: CustomerEndpoint, sub: string): JWTPayload {
  return {
    iss: system.auth.issuer,
    aud: system.auth.audience,
    sub,
    iat: nowSeconds(),
    exp: nowSeconds() + 300,
  };
}

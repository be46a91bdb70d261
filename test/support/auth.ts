import type { LocalSystem } from '../../lib/local/runtime';

/** What a test needs of a local system to act as a customer. */
export type CustomerEndpoint = Pick<LocalSystem, 'url' | 'auth'>;

export interface CustomerRequestInit extends Omit<RequestInit, 'headers'> {
  readonly headers?: Readonly<Record<string, string>>;
}

/** The `authorization` header of a request by `customer`, with a fresh token from the system's local issuer. */
export async function bearerFor(system: CustomerEndpoint, customer: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await system.auth.tokenFor(customer)}` };
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

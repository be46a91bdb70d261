/**
 * `npm run token -- <customer id> [--url http://127.0.0.1:3000]`: prints a token for that customer from the
 * running local system's issuer (`POST /_local/auth/token`), and nothing else, so that a curl example stays
 * one line: `curl -H "authorization: Bearer $(npm run -s token -- c-1)" localhost:3000/orders/...`.
 * The URL defaults to the local system's on $PORT (default 3000).
 */
import { parseArgs } from 'node:util';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { url: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [customer, ...rest] = positionals;
  if (customer === undefined || rest.length > 0) {
    throw new Error('usage: npm run token -- <customer id> [--url http://127.0.0.1:3000]');
  }
  const base = values.url ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}`;
  let response: Response;
  try {
    response = await fetch(new URL('/_local/auth/token', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: customer }),
    });
  } catch (error) {
    throw new Error(`no local system answers at ${base} (start it with npm start)`, { cause: error });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok || typeof body !== 'object' || body === null || !('token' in body)) {
    throw new Error(`${base} refused a token for ${customer}: ${response.status} ${JSON.stringify(body)}`);
  }
  console.log(String(body.token));
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}

import { signWebhook } from '../local/outside-parties/webhook-signing';

/** The simulator's HTTP client: the public API as customers and outside parties use it, with their retries. */

export interface HttpAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** Raised when an answer stays a server error or a network failure after every retry. */
export class SimulatorHttpError extends Error {
  public override readonly name = 'SimulatorHttpError';
  public readonly code = 'SIMULATOR_HTTP_FAILED';
}

const RETRIES = 8;

export interface Latencies {
  record(route: string, milliseconds: number): void;
}

export class SimulatorClient {
  private readonly tokens = new Map<string, Promise<string>>();

  public constructor(
    public readonly baseUrl: string,
    private readonly latencies?: Latencies,
  ) {}

  /** A customer's bearer token from the local issuer (`POST /_local/auth/token`), minted once per run. */
  public async tokenFor(customerId: string): Promise<string> {
    let token = this.tokens.get(customerId);
    if (token === undefined) {
      token = this.send('POST', '/_local/auth/token', { sub: customerId }).then((answer) => {
        if (answer.status !== 200) throw new SimulatorHttpError(`token for ${customerId}: ${answer.status}`);
        return (answer.body as { token: string }).token;
      });
      this.tokens.set(customerId, token);
    }
    return await token;
  }

  /** A customer's call: with its bearer token, retried on 5xx and network errors as a client app would. */
  public async asCustomer<T>(
    customerId: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    route = `${method} ${path}`,
  ): Promise<HttpAnswer<T>> {
    const token = await this.tokenFor(customerId);
    return await this.withRetries<T>(
      method,
      path,
      body,
      {
        ...headers,
        authorization: `Bearer ${token}`,
      },
      route,
    );
  }

  /** The logistics provider's signed report, retried until accepted as the provider's own delivery would be. */
  public async logisticsReport(secret: string, report: object): Promise<HttpAnswer> {
    const raw = JSON.stringify(report);
    return await this.withRetries('POST', '/webhooks/logistics', raw, {}, 'POST /webhooks/logistics', () => ({
      'logistics-signature': signWebhook(secret, raw, Math.floor(Date.now() / 1000)),
    }));
  }

  public async withRetries<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    route = `${method} ${path}`,
    freshHeaders: () => Record<string, string> = () => ({}),
  ): Promise<HttpAnswer<T>> {
    let last = 'no attempt';
    for (let attempt = 0; attempt < RETRIES; attempt += 1) {
      try {
        const started = performance.now();
        const answer = await this.send<T>(method, path, body, { ...headers, ...freshHeaders() });
        this.latencies?.record(route, performance.now() - started);
        if (answer.status < 500) return answer;
        last = `answered ${answer.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
    }
    throw new SimulatorHttpError(`${method} ${path} failed after ${RETRIES} attempts: ${last}`);
  }

  public async send<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): the caller sees the text.
    }
    return { status: response.status, body: parsed as T };
  }
}

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { LocalServerError } from '../http';
import { startOnFreePort } from '../ports';

/** Failures of the local SQS stand-in, each with a stable `code` that callers may branch on. */
export class SqsLocalStartError extends LocalServerError {
  public override readonly name = 'SqsLocalStartError';

  public constructor(message: string, options?: ErrorOptions) {
    super('SQS_LOCAL_START_FAILED', message, options);
  }
}

export interface SqsLocalOptions {
  /** Folder for fauxqs's SQLite file; created if missing. Omitted: in memory, gone when stopped. */
  readonly dataDir?: string;
}

export interface SqsLocal {
  /** `http://127.0.0.1:<port>`, for `SQSClient`'s `endpoint` or `AWS_ENDPOINT_URL_SQS`. */
  readonly endpoint: string;
  readonly port: number;
  /** Closes the server (open long polls included) and, when persisted, the database. */
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
/** Fastify publishes every new instance here, documented as the place to modify it before it serves. */
const FASTIFY_INITIALIZATION = 'fastify.initialization';

/**
 * Starts fauxqs (an in-process SQS emulator: standard and FIFO queues, visibility, redrive to a DLQ on
 * receive) on a free loopback port, with request logging off.
 *
 * It names queue URLs `http://sqs.<region>.localhost:<port>/…`, which does not resolve on every machine: use the
 * URLs that `createQueues` returns, which point at the endpoint instead.
 */
export async function startSqsLocal(options: SqsLocalOptions = {}): Promise<SqsLocal> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true });
  }

  let server: Awaited<ReturnType<typeof startFauxqsOnLoopback>>;
  try {
    // Our own free port rather than fauxqs's port 0, so that the port is known in the same way for every stand-in.
    server = await startOnFreePort(
      (port) => startFauxqsOnLoopback(port, dataDir),
      (error) => error instanceof Error && 'code' in error && error.code === 'EADDRINUSE',
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SqsLocalStartError(`fauxqs could not start: ${reason}`, { cause: error });
  }
  return { endpoint: `http://127.0.0.1:${server.port}`, port: server.port, stop: () => server.stop() };
}

/**
 * fauxqs 2.4's `startFauxqs` listens on `0.0.0.0` with no option to change it, and its `buildApp` (which one could
 * listen with oneself) cannot persist: the SQLite store classes that `startFauxqs` wires in are not exported. So
 * `startFauxqs` runs as is, and its Fastify instance, announced on Fastify's initialization channel, gets a
 * `listen` that binds loopback for our port. Should a future fauxqs bypass this, the address check refuses to
 * hand out a server that listens anywhere else.
 */
async function startFauxqsOnLoopback(port: number, dataDir: string | undefined): Promise<FauxqsServer> {
  const bindLoopback = (message: unknown): void => {
    const app =
      typeof message === 'object' && message !== null && 'fastify' in message ? message.fastify : null;
    if (!isListener(app)) {
      return;
    }
    const listen = app.listen.bind(app);
    app.listen = (options: unknown, ...rest: unknown[]) =>
      listen(isListenOptionsFor(port, options) ? { ...options, host: LOOPBACK } : options, ...rest);
  };
  subscribe(FASTIFY_INITIALIZATION, bindLoopback);
  let server: FauxqsServer;
  try {
    server = await startFauxqs({ port, logger: false, ...(dataDir === undefined ? {} : { dataDir }) });
  } finally {
    unsubscribe(FASTIFY_INITIALIZATION, bindLoopback);
  }
  const host = new URL(server.address).hostname;
  if (host !== LOOPBACK) {
    await server.stop();
    throw new SqsLocalStartError(
      `fauxqs listened on ${host} instead of ${LOOPBACK}; this fauxqs version binds in a way sqs-local.ts does not know`,
    );
  }
  return server;
}

interface Listener {
  listen: (options: unknown, ...rest: unknown[]) => unknown;
}

function isListener(value: unknown): value is Listener {
  return (
    typeof value === 'object' && value !== null && 'listen' in value && typeof value.listen === 'function'
  );
}

function isListenOptionsFor(port: number, options: unknown): options is { port: number } {
  return typeof options === 'object' && options !== null && 'port' in options && options.port === port;
}

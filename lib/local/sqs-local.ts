import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startFauxqs } from 'fauxqs';
import { findFreePort } from './ports';

/** Failures of the local SQS stand-in, each with a stable `code` that callers may branch on. */
export class SqsLocalStartError extends Error {
  public override readonly name = 'SqsLocalStartError';
  public readonly code = 'SQS_LOCAL_START_FAILED';
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

const BIND_ATTEMPTS = 3;

/**
 * Starts fauxqs (an in-process SQS emulator: standard and FIFO queues, visibility, redrive to a DLQ on
 * receive) on a free port, with request logging off.
 *
 * fauxqs 2.4 always listens on all interfaces; the endpoint handed out is the loopback one. It names queue URLs
 * `http://sqs.<region>.localhost:<port>/…`, which does not resolve on every machine: use the URLs that
 * `createQueues` returns, which point at the endpoint instead.
 */
export async function startSqsLocal(options: SqsLocalOptions = {}): Promise<SqsLocal> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true });
  }

  for (let attempt = 1; ; attempt += 1) {
    // Our own free port rather than fauxqs's port 0, so that the port is known in the same way for every stand-in.
    const port = await findFreePort();
    try {
      const server = await startFauxqs({
        port,
        logger: false,
        ...(dataDir === undefined ? {} : { dataDir }),
      });
      return {
        endpoint: `http://127.0.0.1:${server.port}`,
        port: server.port,
        stop: () => server.stop(),
      };
    } catch (error) {
      const lostPortRace = error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
      if (!lostPortRace || attempt >= BIND_ATTEMPTS) {
        throw new SqsLocalStartError(
          `fauxqs could not start: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
          },
        );
      }
    }
  }
}

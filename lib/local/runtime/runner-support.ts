/**
 * What the local event-source runners (SQS and DynamoDB streams) share: how they report, how they wait between
 * polls, and how they word a caught error.
 */

/** Where the local event-source runners report what a developer should see: failures and recoveries. */
export interface RunnerLogger {
  info(message: string, details?: Readonly<Record<string, unknown>>): void;
  warn(message: string, details?: Readonly<Record<string, unknown>>): void;
}

/** Logs to the console, one line per event, as the rest of the local runtime's output is read by people. */
export const consoleRunnerLogger: RunnerLogger = {
  info: (message, details) => console.info(message, details ?? ''),
  warn: (message, details) => console.warn(message, details ?? ''),
};

/**
 * Resolves after `ms`, or at once when `signal` aborts, so a runner's back-off never holds up its `stop()`.
 * Never rejects: an abort is an ordinary way for the wait to end.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    if (signal.aborted) {
      resolvePromise();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolvePromise();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The wait between a runner's failed reads: doubling from 100 ms up to 5 s, and back to 100 ms once one works. */
export class Backoff {
  private static readonly INITIAL_MS = 100;
  private static readonly MAX_MS = 5_000;
  private nextMs = Backoff.INITIAL_MS;

  public reset(): void {
    this.nextMs = Backoff.INITIAL_MS;
  }

  /** Waits the current delay (cut short when `signal` aborts) and doubles the next one. */
  public async wait(signal: AbortSignal): Promise<void> {
    await sleep(this.nextMs, signal);
    this.nextMs = Math.min(this.nextMs * 2, Backoff.MAX_MS);
  }
}

/** `name: message` for an Error, so a log line says which kind of failure it was; anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Logs an outage of what a runner reads once when it begins and once when it ends, however many attempts fail
 * in between; `subject` names it, e.g. `sqs runner for f: polling <arn>`.
 */
export class OutageLog {
  private failing = false;

  public constructor(
    private readonly logger: RunnerLogger,
    private readonly subject: string,
  ) {}

  public failed(error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn(`${this.subject} failed; retrying`, { error: errorMessage(error) });
  }

  public recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info(`${this.subject} works again`);
  }
}

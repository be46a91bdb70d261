import { type LocalSystem, startLocalSystem } from '../local/runtime/local-system';
import type { FaultOptions } from '../local/runtime/sdk-instrumentation';
import { appModel, withMaxReceiveCount } from '../model';
import type { Progress } from './simulate';

/** Starting the local system for a simulation or a benchmark, with the settings that make a run take seconds. */

export interface HarnessOptions {
  readonly faults?: FaultOptions;
  readonly paymentTimeoutSeconds: number;
  /** Fraction of warehouse picks and transport shipments the simulators fail. */
  readonly logisticsFailureRate: number;
  readonly functionConcurrency: number;
  /**
   * The queues' visibility timeout: seconds rather than the deployed minutes, so that a message whose handler
   * crashed is retried soon. It must stay above the time one consumer invocation takes on a saturated machine
   * (a FIFO batch of ten events, one after another): otherwise a batch becomes visible again before the
   * invocation holding it has finished, its messages are received and handled again, and their receive counts
   * climb to the dead-letter queue. Default 10 s; a small run on an idle machine can afford 2 s.
   */
  readonly visibilityTimeoutSeconds?: number;
}

export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 10;
/**
 * Execution environments per function for the command-line tools. Each is a V8 isolate of its own, which compiles
 * and collects garbage on its own: on 2 cores the benchmark did 6.8 orders/s with 4 per function (0.34 CPU-s per
 * order), 8.6 with 2 (0.27) and 9.4 with 1 (0.24). Two keep two invocations of one function able to race
 * (duplicate callbacks, concurrent reports), which one would serialise.
 */
export const DEFAULT_FUNCTION_CONCURRENCY = 2;
/** Room for more receives than deployed: a logistics report that arrives before fulfilment has finished waits. */
const MAX_RECEIVE_COUNT = 30;
const SWEEPER_INTERVAL_SECONDS = 5;
/** Lost payment webhooks are found within seconds rather than the deployed five minutes. */
const RECONCILER_INTERVAL_SECONDS = 10;

export async function startSimulatedSystem(options: HarnessOptions): Promise<LocalSystem> {
  return await startLocalSystem({
    port: 0,
    // As deployed (the stack sets no log level: Powertools' default INFO, metrics on), so the cost report's
    // CloudWatch Logs line measures the real volume; dropped after counting, or it would flood the terminal.
    functionLogLevel: 'INFO',
    discardFunctionOutput: true,
    functionConcurrency: options.functionConcurrency,
    queueVisibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    model: withMaxReceiveCount(appModel, MAX_RECEIVE_COUNT),
    scheduleRatesSeconds: {
      sweeper: SWEEPER_INTERVAL_SECONDS,
      'payment-reconciler': RECONCILER_INTERVAL_SECONDS,
    },
    settings: { PAYMENT_TIMEOUT_SECONDS: String(options.paymentTimeoutSeconds) },
    logistics: {
      warehouseFailureRate: options.logisticsFailureRate,
      transportFailureRate: options.logisticsFailureRate,
    },
    ...(options.faults === undefined ? {} : { faults: options.faults }),
  });
}

/**
 * A one-line progress bar on stderr, redrawn in place on a terminal and printed every 10 % otherwise, so a log
 * file is not flooded.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): (progress: Progress) => void {
  let lastLine = '';
  let lastMark = '';
  return ({ phase, done, total }) => {
    const fraction = total === 0 ? 1 : done / total;
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `${phase.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    if (line === lastLine) return;
    lastLine = line;
    if (stream.isTTY) {
      stream.write(`\r${line}${done === total ? '\n' : ''}`);
    } else {
      const mark = `${phase}:${Math.floor(fraction * 10)}`;
      if (mark !== lastMark) {
        lastMark = mark;
        stream.write(`${line}\n`);
      }
    }
  };
}

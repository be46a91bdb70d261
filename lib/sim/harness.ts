import { type LocalSystem, startLocalSystem } from '../local/runtime';
import type { FaultOptions } from '../local/sdk-instrumentation';
import { appModel, withMaxReceiveCount } from '../model';
import type { Progress } from './simulate';

/** Starting the local system for a simulation or a benchmark, with the settings that make a run take seconds. */

export interface HarnessOptions {
  readonly faults?: FaultOptions;
  readonly paymentTimeoutSeconds: number;
  /** Fraction of warehouse picks and transport shipments the simulators fail. */
  readonly logisticsFailureRate: number;
  readonly functionConcurrency: number;
}

/**
 * A visibility timeout of seconds rather than 3 minutes, so a message whose handler crashed is retried quickly,
 * with room for more receives (a logistics report that arrives before fulfilment has finished waits on its queue).
 */
const VISIBILITY_TIMEOUT_SECONDS = 2;
const MAX_RECEIVE_COUNT = 30;
const SWEEPER_INTERVAL_SECONDS = 5;

export async function startSimulatedSystem(options: HarnessOptions): Promise<LocalSystem> {
  return await startLocalSystem({
    port: 0,
    // As deployed (the stack sets no log level: Powertools' default INFO, metrics on), so the cost report's
    // CloudWatch Logs line measures the real volume; dropped after counting, or it would flood the terminal.
    functionLogLevel: 'INFO',
    discardFunctionOutput: true,
    functionConcurrency: options.functionConcurrency,
    queueVisibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    model: withMaxReceiveCount(appModel, MAX_RECEIVE_COUNT),
    scheduleRatesSeconds: { sweeper: SWEEPER_INTERVAL_SECONDS },
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

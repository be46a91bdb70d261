/**
 * `npm run simulate -- --orders N --concurrency C [--faults RATE] [--fault-kinds a,b] [--seed S] [--mix paid=50,...]
 * [--webhook-loss RATE]`:
 * starts the local system (or uses `--url`), acts on it as customers, the payment provider and the carrier, waits
 * for quiescence, checks every order, prints a summary and the cost report, and exits 1 on any violation.
 * See docs/simulation.md.
 */
import { parseArgs } from 'node:util';
import type { LocalSystem } from '../lib/local/runtime/local-system';
import { FAULT_KINDS, type FaultKind } from '../lib/local/runtime/sdk-instrumentation';
import { costReport, formatCostReport } from '../lib/sim/cost';
import {
  DEFAULT_FUNCTION_CONCURRENCY,
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  progressBar,
  startSimulatedSystem,
} from '../lib/sim/harness';
import { DEFAULT_MIX, parseMix, type SimulationReport, simulate } from '../lib/sim/simulate';
import { summarize } from '../lib/sim/stats';

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new Error(`--${name} must be a number >= 0, not ${value}`);
  return parsed;
}

export function formatSummary(report: SimulationReport): string {
  const lines: string[] = [];
  const statuses = [
    ...new Set(Object.values(report.verdict.outcomes).flatMap((byStatus) => Object.keys(byStatus))),
  ].sort();
  const header = ['scenario', 'orders', ...statuses];
  const rows = Object.entries(report.verdict.outcomes).map(([scenario, byStatus]) => [
    scenario,
    String(Object.values(byStatus).reduce((sum, count) => sum + count, 0)),
    ...statuses.map((status) => String(byStatus[status] ?? 0)),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const format = (row: readonly string[]) =>
    row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  lines.push(format(header), format(widths.map((width) => '-'.repeat(width))), ...rows.map(format));
  const byInvariant = new Map<string, number>();
  for (const violation of report.verdict.violations) {
    byInvariant.set(violation.invariant, (byInvariant.get(violation.invariant) ?? 0) + 1);
  }
  lines.push(
    '',
    `orders ${report.orders}, quiescent after ${report.elapsedSeconds.toFixed(1)} s, ` +
      `dead letters ${report.verdict.deadLettersAccountedFor} accounted for, violations ${report.verdict.violations.length}, ` +
      `actor errors ${report.actorErrors.length}`,
    ...report.actorErrors.slice(0, 10).map((error) => `  actor error: ${error}`),
    `injected faults: ${
      Object.entries(report.usage)
        .filter(([key]) => key.startsWith('LocalFault:'))
        .map(([key, usage]) => `${key.slice('LocalFault:'.length)} ${usage.requests}`)
        .join(', ') || 'none'
    }`,
    ...[...byInvariant].map(([invariant, count]) => `  ${invariant}: ${count}`),
    ...report.verdict.violations.slice(0, 20).map((v) => `  ${v.invariant} ${v.orderId ?? '-'}: ${v.detail}`),
    '',
    'latency (ms)                        count      p50      p95      p99',
    ...Object.entries(report.latenciesMs).map(([route, samples]) => {
      const { count, p50, p95, p99 } = summarize(samples);
      return `  ${route.padEnd(32)} ${String(count).padStart(6)} ${[p50, p95, p99].map((value) => value.toFixed(0).padStart(8)).join(' ')}`;
    }),
  );
  return lines.join('\n');
}

function faultKinds(text: string | undefined): FaultKind[] {
  if (text === undefined) return [...FAULT_KINDS];
  return text.split(',').map((kind) => {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`unknown fault kind ${kind}; known: ${FAULT_KINDS.join(', ')}`);
    }
    return kind as FaultKind;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '32' },
      faults: { type: 'string', default: '0' },
      'fault-kinds': { type: 'string' },
      seed: { type: 'string', default: '1' },
      mix: { type: 'string' },
      url: { type: 'string' },
      rate: { type: 'string', default: '100' },
      'payment-timeout': { type: 'string', default: '20' },
      'logistics-failure-rate': { type: 'string', default: '0.02' },
      'function-concurrency': { type: 'string', default: String(DEFAULT_FUNCTION_CONCURRENCY) },
      'settle-timeout': { type: 'string', default: '300' },
      'visibility-timeout': { type: 'string', default: String(DEFAULT_VISIBILITY_TIMEOUT_SECONDS) },
      'webhook-loss': { type: 'string' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const faultRate = numberOption(values.faults, 'faults', 0);
  const seed = numberOption(values.seed, 'seed', 1);
  let system: LocalSystem | undefined;
  try {
    if (values.url === undefined) {
      system = await startSimulatedSystem({
        paymentTimeoutSeconds: numberOption(values['payment-timeout'], 'payment-timeout', 20),
        logisticsFailureRate: numberOption(values['logistics-failure-rate'], 'logistics-failure-rate', 0.02),
        functionConcurrency: numberOption(
          values['function-concurrency'],
          'function-concurrency',
          DEFAULT_FUNCTION_CONCURRENCY,
        ),
        visibilityTimeoutSeconds: numberOption(
          values['visibility-timeout'],
          'visibility-timeout',
          DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
        ),
        ...(faultRate > 0
          ? { faults: { rate: faultRate, seed, kinds: faultKinds(values['fault-kinds']) } }
          : {}),
      });
    }
    const report = await simulate({
      baseUrl: values.url ?? system?.url ?? '',
      orders: numberOption(values.orders, 'orders', 200),
      concurrency: Math.max(1, numberOption(values.concurrency, 'concurrency', 32)),
      mix: values.mix === undefined ? DEFAULT_MIX : parseMix(values.mix),
      seed,
      settleTimeoutSeconds: numberOption(values['settle-timeout'], 'settle-timeout', 300),
      ...(values['webhook-loss'] === undefined
        ? {}
        : { webhookLoss: Math.min(1, numberOption(values['webhook-loss'], 'webhook-loss', 0)) }),
      onProgress: progressBar(),
    });
    console.log(formatSummary(report));
    const cost = costReport(report.usage, report.orders, numberOption(values.rate, 'rate', 100));
    console.log(`\n${formatCostReport(cost)}`);
    if (values.json !== undefined) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        values.json,
        `${JSON.stringify({ ...report, latenciesMs: undefined, cost }, null, 2)}\n`,
      );
    }
    process.exitCode = report.verdict.violations.length === 0 && report.actorErrors.length === 0 ? 0 : 1;
  } finally {
    await system?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});

import { describe, expect, it } from 'vitest';
import type { ReconciliationOptions, ReconciliationReport } from '../../functions/domain/payment-service';
import { SETTING_DEFAULTS } from '../../lib/model';
import {
  PaymentsCommandErrorCode,
  PaymentsUsageError,
  parsePaymentsArgs,
  parseSince,
  renderReconciliationReport,
  runPaymentsCommand,
} from '../../lib/ops/payments';

const NOW = new Date('2026-12-07T04:00:00.000Z');

const report: ReconciliationReport = {
  since: '2026-12-07T02:00:00.000Z',
  eventsExamined: 3,
  ordersExamined: 5,
  refundsExamined: 1,
  changed: [
    { orderId: 'o-1', paymentId: 'pi_1', outcome: 'paid', foundBy: 'undeliveredEvent' },
    { orderId: 'o-2', paymentId: 'pi_2', outcome: 'cancelled', foundBy: 'openOrder' },
    { orderId: 'o-3', paymentId: 'pi_3', outcome: 'refunded', foundBy: 'pendingRefund' },
  ],
  failed: [],
  moreEvents: false,
};

function usageProblem(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof PaymentsUsageError) return error.message;
    throw error;
  }
  throw new Error('no usage error');
}

describe('parsePaymentsArgs', () => {
  it('takes reconcile alone: from the stored checkpoint, as text', () => {
    // Act
    const request = parsePaymentsArgs(['payments', 'reconcile'], NOW);

    // Assess
    expect(request).toEqual({ since: undefined, json: false });
  });

  it('takes --since and --json in any order', () => {
    // Act
    const request = parsePaymentsArgs(['--json', 'reconcile', '--since', '2026-12-07T01:30:00Z'], NOW);

    // Assess
    expect(request).toEqual({ since: new Date('2026-12-07T01:30:00.000Z'), json: true });
  });

  it.each([
    [[], 'no command'],
    [['refund'], 'unknown command refund'],
    [['reconcile', 'now'], 'unexpected arguments: now'],
    [['reconcile', '--since'], '--since needs a time'],
    [['reconcile', '--since', '--json'], '--since needs a time'],
  ])('refuses %j: %s', (args, problem) => {
    // Act
    const message = usageProblem(() => parsePaymentsArgs(args, NOW));

    // Assess
    expect(message).toBe(
      `${problem}; usage: payments reconcile [--since <ISO time | 90m | 6h | 2d>] [--json]`,
    );
  });
});

describe('parseSince', () => {
  it.each([
    ['90m', '2026-12-07T02:30:00.000Z'],
    ['6h', '2026-12-06T22:00:00.000Z'],
    ['2d', '2026-12-05T04:00:00.000Z'],
    ['2026-12-07', '2026-12-07T00:00:00.000Z'],
    ['2026-12-07T03:15Z', '2026-12-07T03:15:00.000Z'],
    ['2026-12-07T05:15:30.5+02:00', '2026-12-07T03:15:30.500Z'],
  ])('reads %s as %s', (value, instant) => {
    // Act
    const since = parseSince(value, NOW);

    // Assess
    expect(since.toISOString()).toBe(instant);
  });

  it.each([
    ['2026-12-07T03:15:00', 'neither an ISO 8601'],
    ['yesterday', 'neither an ISO 8601'],
    ['5w', 'neither an ISO 8601'],
    ['2026-13-45', 'neither an ISO 8601'],
    ['2026-12-08', 'is in the future'],
  ])('refuses %s (%s)', (value, problem) => {
    // Act
    const message = usageProblem(() => parseSince(value, NOW));

    // Assess
    expect(message).toContain(`--since ${value} `);
    expect(message).toContain(problem);
  });
});

describe('renderReconciliationReport', () => {
  it('prints the window, the counts examined and one line per change with how it was found', () => {
    // Act
    const lines = renderReconciliationReport(report, false);

    // Assess
    expect(lines).toEqual([
      'Reconciliation: undelivered events since 2026-12-07T02:00:00.000Z (from the stored checkpoint)',
      '  examined 3 undelivered event(s), 5 order(s) awaiting payment, 1 pending refund(s)',
      '  changed 3 payment(s) that no webhook had:',
      '    o-1\tpi_1\tpaid\tfound by an undelivered event',
      "    o-2\tpi_2\tcancelled\tfound by an open order's intent",
      '    o-3\tpi_3\trefunded\tfound by a pending refund',
    ]);
  });

  it('lists the payments it could not settle, and whether the next pass tries again', () => {
    // Act
    const lines = renderReconciliationReport(
      {
        ...report,
        changed: [],
        failed: [
          {
            orderId: 'o-4',
            paymentId: 'pi_4',
            foundBy: 'openOrder',
            code: 'PAYMENT_PROVIDER_REJECTED',
            retryable: false,
          },
          {
            orderId: undefined,
            paymentId: 'pi_5',
            foundBy: 'undeliveredEvent',
            code: 'PAYMENT_PROVIDER_UNAVAILABLE',
            retryable: true,
          },
        ],
      },
      false,
    );

    // Assess
    expect(lines.slice(2)).toEqual([
      '  changed nothing: the webhooks had brought every payment fact',
      '  could not settle 2 payment(s) (exit code 1):',
      "    o-4\tpi_4\tPAYMENT_PROVIDER_REJECTED\tfound by an open order's intent\twill not get better by itself: look at it",
      '    (no order)\tpi_5\tPAYMENT_PROVIDER_UNAVAILABLE\tfound by an undelivered event\tthe next pass tries again',
    ]);
  });

  it('says when nothing changed, that --since left the checkpoint alone, and that a backlog is left', () => {
    // Act
    const lines = renderReconciliationReport({ ...report, changed: [], moreEvents: true }, true);

    // Assess
    expect(lines).toEqual([
      'Reconciliation: undelivered events since 2026-12-07T02:00:00.000Z (--since; the stored checkpoint is left as it was)',
      '  examined 3 undelivered event(s), 5 order(s) awaiting payment, 1 pending refund(s)',
      '  changed nothing: the webhooks had brought every payment fact',
      '  more undelivered events wait than one pass takes: run it again',
    ]);
  });
});

describe('runPaymentsCommand', () => {
  /** A reconciler that answers `report` and remembers what it was asked. */
  function recording() {
    const asked: ReconciliationOptions[] = [];
    let built = 0;
    const reconciler = async () => {
      built += 1;
      return {
        reconcile: async (options: ReconciliationOptions) => {
          asked.push(options);
          return report;
        },
      };
    };
    return { asked, reconciler, built: () => built };
  }

  it('runs one pass with the scheduled pass limits and the window asked, and prints the report as JSON', async () => {
    // Prepare
    const { asked, reconciler } = recording();
    const out: string[] = [];

    // Act
    const result = await runPaymentsCommand(['payments', 'reconcile', '--since', '2h', '--json'], {
      reconciler,
      out: (line) => out.push(line),
      now: () => NOW,
    });

    // Assess
    expect(asked).toEqual([
      {
        since: new Date('2026-12-07T02:00:00.000Z'),
        maxEvents: SETTING_DEFAULTS.RECONCILE_MAX_EVENTS,
        maxOrders: SETTING_DEFAULTS.RECONCILE_MAX_ORDERS,
        openIntentMinAgeSeconds: 0,
        maxRefunds: SETTING_DEFAULTS.RECONCILE_MAX_REFUNDS,
      },
    ]);
    expect(result).toBe(report);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? '')).toEqual(report);
  });

  it('asks for no window without --since, so the pass goes on from the checkpoint', async () => {
    // Prepare
    const { asked, reconciler } = recording();
    const out: string[] = [];

    // Act
    await runPaymentsCommand(['reconcile'], { reconciler, out: (line) => out.push(line) });

    // Assess
    expect(asked).toHaveLength(1);
    expect(asked[0]).not.toHaveProperty('since');
    expect(out[0]).toContain('(from the stored checkpoint)');
  });

  it('builds nothing for a usage mistake: no credentials, no secret read', async () => {
    // Prepare
    const { reconciler, built } = recording();

    // Act
    const run = runPaymentsCommand(['reconcile', '--since', 'soon'], { reconciler, out: () => undefined });

    // Assess
    await expect(run).rejects.toMatchObject({ code: PaymentsCommandErrorCode.USAGE });
    expect(built()).toBe(0);
  });
});

import { OrderStatus } from '../../../functions/domain/order-status';
import type { Overview } from '../backend';
import { type Html, html } from '../html';
import { consoleUrl } from '../routes';
import { age, atLeast, badge, plural, time } from './format';
import type { ConsolePage } from './layout';

/** The happy path top to bottom, then the two ways out of it: the funnel's order. */
const FUNNEL: readonly OrderStatus[] = [
  OrderStatus.PENDING_PAYMENT,
  OrderStatus.PAID,
  OrderStatus.FULFILLING,
  OrderStatus.FULFILLED,
  OrderStatus.OUTBOUND,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
  OrderStatus.CANCELLED,
  OrderStatus.FULFILLMENT_FAILED,
];

const CHART_WIDTH = 600;
const CHART_HEIGHT = 120;

/**
 * Where everything stands, each figure a link to its list. The part in `data-refresh` is what the console's
 * script replaces every 10 seconds with the same part of a freshly fetched page (no meta refresh, which would
 * reload under a keyboard user's focus and cannot be paused).
 */
export function overviewPage(overview: Overview, now: Date): ConsolePage {
  const queuedLetters = overview.deadLetterQueues.reduce((sum, queue) => sum + queue.approximateMessages, 0);
  const cards = [
    card(atLeast(overview.ordersCounted, overview.complete), 'orders counted', consoleUrl.orders()),
    card(
      String(queuedLetters),
      'messages in dead-letter queues',
      consoleUrl.deadLetters(),
      queuedLetters > 0,
    ),
    card(String(overview.failedSagas), 'failed sagas', consoleUrl.sagas('FAILED'), overview.failedSagas > 0),
    card(
      String(overview.stuckRefunds.length),
      'stuck refunds',
      '#stuck-refunds',
      overview.stuckRefunds.length > 0,
    ),
    card(
      String(overview.paymentsFoundByReconciliation.length),
      'payments found by reconciliation',
      '#reconciliation',
    ),
  ];
  const main = html`<h1>Overview</h1>
<div class="refresh-controls" data-refresh-controls></div>
<div data-refresh>
<p class="updated">Last updated ${time(overview.gatheredAt)}</p>
<ul class="cards">${cards}</ul>
${funnel(overview)}
${perMinute(overview)}
${deadLetters(overview, now)}
${stuckRefunds(overview)}
${reconciliation(overview)}
</div>`;
  return { title: 'Overview', section: 'overview', main };
}

function card(figure: string, label: string, href: string, alarming = false): Html {
  return html`<li class="card${alarming ? ' card-alarm' : ''}"><a href="${href}"><span class="card-figure">${figure}</span> <span class="card-label">${label}</span></a></li>`;
}

function funnel(overview: Overview): Html {
  const largest = Math.max(1, ...FUNNEL.map((status) => overview.ordersByStatus[status]));
  const floor = overview.complete
    ? ''
    : html`<p class="note">The count stopped after ${overview.ordersCounted.toLocaleString('en')} orders, so each figure is a floor.</p>`;
  const rows = FUNNEL.map((status) => {
    const count = overview.ordersByStatus[status];
    return html`<li><a href="${consoleUrl.orders({ status })}">${badge(status)} <span class="funnel-count">${atLeast(count, overview.complete)}</span></a><svg class="bar" aria-hidden="true" viewBox="0 0 100 10" preserveAspectRatio="none"><rect width="${((count / largest) * 100).toFixed(1)}" height="10"/></svg></li>`;
  });
  return html`<section aria-labelledby="funnel-heading">
<h2 id="funnel-heading">Orders by status</h2>
${floor}
<ol class="funnel">${rows}</ol>
</section>`;
}

function perMinute(overview: Overview): Html {
  const minutes = overview.ordersPerMinute;
  const total = minutes.reduce((sum, minute) => sum + minute.count, 0);
  const peak = minutes.reduce(
    (best, minute) => (minute.count > (best?.count ?? -1) ? minute : best),
    minutes[0],
  );
  const clock = (iso: string) => iso.slice(11, 16);
  const description =
    peak === undefined
      ? 'No minutes counted.'
      : `${plural(total, 'order')} in the last ${plural(minutes.length, 'minute')}; at most ${peak.count} in one minute (${clock(peak.minute)} UTC); ${minutes.at(-1)?.count ?? 0} in the latest minute.`;
  const columnWidth = CHART_WIDTH / Math.max(1, minutes.length);
  const tallest = Math.max(1, peak?.count ?? 0);
  const columns = minutes.map((minute, index) => {
    const height = (minute.count / tallest) * (CHART_HEIGHT - 4);
    return html`<rect x="${(index * columnWidth + 1).toFixed(1)}" y="${(CHART_HEIGHT - height).toFixed(1)}" width="${Math.max(1, columnWidth - 2).toFixed(1)}" height="${height.toFixed(1)}"/>`;
  });
  const first = minutes[0];
  const rows = minutes.map(
    (minute) =>
      html`<tr><th scope="row">${time(minute.minute)}</th><td class="number">${minute.count}</td></tr>`,
  );
  return html`<section aria-labelledby="per-minute-heading">
<h2 id="per-minute-heading">Orders per minute</h2>
<svg class="chart" role="img" aria-label="${description}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" preserveAspectRatio="none"><line class="chart-axis" x1="0" y1="${CHART_HEIGHT}" x2="${CHART_WIDTH}" y2="${CHART_HEIGHT}"/>${columns}</svg>
<p>${description} ${first === undefined ? '' : html`<a href="${consoleUrl.orders({ from: first.minute })}">List these orders</a>`}</p>
<details><summary>Orders per minute as a table</summary>
<table><caption>Orders created per minute</caption><thead><tr><th scope="col">Minute</th><th scope="col">Orders</th></tr></thead><tbody>${rows}</tbody></table>
</details>
</section>`;
}

function deadLetters(overview: Overview, now: Date): Html {
  const rows = overview.deadLetterQueues.map(
    (queue) =>
      html`<tr><th scope="row"><a href="${consoleUrl.deadLetterQueue(queue.name)}">${queue.name}</a></th><td class="number${queue.approximateMessages > 0 ? ' alarm' : ''}">${queue.approximateMessages}</td><td>${queue.oldestSentAt === undefined ? '–' : age(queue.oldestSentAt, now)}</td></tr>`,
  );
  return html`<section aria-labelledby="dead-letters-heading">
<h2 id="dead-letters-heading">Dead letters</h2>
<table><caption>Dead-letter queues: depth and oldest message</caption>
<thead><tr><th scope="col">Queue</th><th scope="col">Messages</th><th scope="col">Oldest message's age</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="3">No dead-letter queues.</td></tr>` : rows}</tbody></table>
<p><a href="${consoleUrl.sagas('FAILED')}">${plural(overview.failedSagas, 'failed saga')}</a></p>
</section>`;
}

function stuckRefunds(overview: Overview): Html {
  const items = overview.stuckRefunds.map(
    (refund) =>
      html`<li><a href="${consoleUrl.order(refund.orderId)}">${refund.orderId}</a>: payment ${refund.paymentId}, owed since ${time(refund.since)}</li>`,
  );
  return html`<section id="stuck-refunds" aria-labelledby="stuck-refunds-heading">
<h2 id="stuck-refunds-heading">Stuck refunds</h2>
${items.length === 0 ? html`<p>No refund is overdue.</p>` : html`<ul>${items}</ul>`}
</section>`;
}

function reconciliation(overview: Overview): Html {
  const items = overview.paymentsFoundByReconciliation.map(
    (payment) =>
      html`<li><a href="${consoleUrl.order(payment.orderId)}">${payment.orderId}</a>: payment ${payment.paymentId}</li>`,
  );
  return html`<section id="reconciliation" aria-labelledby="reconciliation-heading">
<h2 id="reconciliation-heading">Payments found by reconciliation</h2>
${items.length === 0 ? html`<p>None: every payment's webhook arrived.</p>` : html`<ul>${items}</ul>`}
</section>`;
}

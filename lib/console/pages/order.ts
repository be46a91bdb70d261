import { OrderStatus } from '../../../functions/domain/order-status';
import { prettyBody } from '../../ops/dlq';
import type { OrderStory, SagaStory } from '../../ops/order';
import { stoppedShort } from '../../ops/sagas';
import type { StateMachineDefinition } from '../backend';
import { type Html, html } from '../html';
import { consoleUrl } from '../routes';
import { sagaGraph, stateOutcomes } from '../saga-graph';
import { badge, money, plural, time } from './format';
import type { ConsolePage } from './layout';
import { sagaRedriveForm } from './parts';

/** The statuses a logistics provider's reports move an order to. */
const LOGISTICS: readonly OrderStatus[] = [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.DELIVERED];

/** The order's whole story, in the order `ops order` tells it: problems first, then the facts behind them. */
export function orderPage(
  story: OrderStory,
  definition: StateMachineDefinition,
  csrfToken: string,
): ConsolePage {
  const main = html`<h1>Order ${story.orderId}</h1>
${facts(story)}
${problems(story)}
${timeline(story)}
${payments(story)}
${events(story)}
${logistics(story)}
${ledger(story)}
${saga(story.saga, definition, csrfToken)}
${deadLetters(story)}`;
  return { title: `Order ${story.orderId}`, section: 'orders', main };
}

function facts(story: OrderStory): Html {
  const { order } = story;
  if (order === undefined) {
    return html`<p class="note">The table ${story.tableName} has no such order; what else was found under this id is below.</p>`;
  }
  const items = order.items.map(
    (item) => html`<li>${item.sku} × ${item.quantity} at ${money(item.unitPrice, order.currency)}</li>`,
  );
  return html`<dl class="facts">
<div><dt>Status</dt><dd>${badge(order.status)} <span class="muted">version ${order.version}</span></dd></div>
<div><dt>Customer</dt><dd><a href="${consoleUrl.orders({ customerId: order.customerId })}">${order.customerId}</a></dd></div>
<div><dt>Total</dt><dd>${money(order.totalAmount, order.currency)}</dd></div>
<div><dt>Items</dt><dd><ul class="plain">${items}</ul></dd></div>
<div><dt>Created</dt><dd>${time(order.createdAt)}</dd></div>
<div><dt>Pay by</dt><dd>${time(order.paymentDeadline)}</dd></div>
<div><dt>Updated</dt><dd>${time(order.updatedAt)}</dd></div>
</dl>`;
}

function problems(story: OrderStory): Html {
  const items = story.problems.map(
    (problem) =>
      html`<li><strong>${problem.summary}</strong>${problem.details.length > 0 && html`<ul>${problem.details.map((detail) => html`<li>${detail}</li>`)}</ul>`}${problem.command !== undefined && html`<p>Once the cause is fixed: <code>${problem.command}</code></p>`}</li>`,
  );
  return html`<section class="problems" aria-labelledby="problems-heading">
<h2 id="problems-heading">Problems</h2>
${items.length === 0 ? html`<p>No problems found.</p>` : html`<ul class="problem-list">${items}</ul>`}
</section>`;
}

function timeline(story: OrderStory): Html {
  const items = story.timeline.map(
    (entry) =>
      html`<li>${badge(entry.to)} <span class="muted">${time(entry.at)}, version ${entry.version}</span> <span class="reason">${entry.reason}</span></li>`,
  );
  return html`<section aria-labelledby="timeline-heading">
<h2 id="timeline-heading">Timeline</h2>
${items.length === 0 ? html`<p>No transitions.</p>` : html`<ol class="timeline" aria-label="Timeline">${items}</ol>`}
</section>`;
}

function payments(story: OrderStory): Html {
  const rows = story.payments.map(
    (payment) =>
      html`<tr><th scope="row">${payment.paymentId}</th><td>${badge(payment.status)}</td><td class="number">${money(payment.amount, payment.currency)}</td><td>${payment.refundReason ?? '–'}</td><td>${payment.recordedBy ?? 'not recorded'}</td><td>${time(payment.createdAt)}</td><td>${time(payment.updatedAt)}</td></tr>`,
  );
  return html`<section aria-labelledby="payments-heading">
<h2 id="payments-heading">Payments</h2>
${
  rows.length === 0
    ? html`<p>No payments.</p>`
    : html`<table><caption>Payments and refunds</caption>
<thead><tr><th scope="col">Payment</th><th scope="col">Status</th><th scope="col">Amount</th><th scope="col">Refund reason</th><th scope="col">Learnt from</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
</section>`;
}

function events(story: OrderStory): Html {
  const rows = story.events.map(
    (event) =>
      html`<tr><td>${event.occurredAt === undefined ? 'time not kept' : time(event.occurredAt)}</td><td>${event.type}</td><td><code>${event.eventId}</code></td><td>${event.detail}</td></tr>`,
  );
  return html`<section aria-labelledby="events-heading">
<h2 id="events-heading">Events published</h2>
${
  rows.length === 0
    ? html`<p>No events.</p>`
    : html`<table><caption>Events as the outbox relay published them</caption>
<thead><tr><th scope="col">Occurred</th><th scope="col">Type</th><th scope="col">Event id</th><th scope="col">Detail</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
</section>`;
}

function logistics(story: OrderStory): Html {
  const reports = story.timeline.filter((entry) => LOGISTICS.includes(entry.to));
  const items = reports.map((entry) => html`<li>${badge(entry.to)} ${time(entry.at)}: ${entry.reason}</li>`);
  return html`<section aria-labelledby="logistics-heading">
<h2 id="logistics-heading">Logistics reports</h2>
${items.length === 0 ? html`<p>No logistics report applied yet.</p>` : html`<ul>${items}</ul>`}
</section>`;
}

function ledger(story: OrderStory): Html {
  const rows = story.ledger.map(
    (entry) =>
      html`<tr><th scope="row">${entry.step}</th><td>${badge(entry.status)}</td><td>${entry.compensatedFrom ?? '–'}</td><td>${time(entry.updatedAt)}</td></tr>`,
  );
  return html`<section aria-labelledby="ledger-heading">
<h2 id="ledger-heading">Ledger</h2>
${
  rows.length === 0
    ? html`<p>No saga step recorded.</p>`
    : html`<table><caption>Saga step ledger</caption>
<thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Compensated from</th><th scope="col">Updated</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
</section>`;
}

/**
 * The execution drawn over its definition, with each failed step's error and cause below: a Task's last failed
 * attempt, or for a Fail state the execution's own error.
 */
function saga(story: SagaStory | undefined, definition: StateMachineDefinition, csrfToken: string): Html {
  const failedSteps = [...stateOutcomes(story).values()]
    .filter((step) => step.outcome === 'failed')
    .map((step) => {
      const failure = step.failures.at(-1);
      const error =
        failure?.error ?? (step.type === 'Fail' ? story?.error : undefined) ?? 'no error recorded';
      const cause = failure?.cause ?? (step.type === 'Fail' ? story?.cause : undefined) ?? '';
      const attempts =
        step.attempts > 1 ? html` <span class="muted">after ${plural(step.attempts, 'attempt')}</span>` : '';
      return html`<li><strong>${step.name}</strong> failed: <code>${error}</code>${cause === '' ? '' : html`: ${cause}`}${attempts}</li>`;
    });
  const about =
    story === undefined
      ? html`<p>No fulfilment execution: the saga starts once the order is paid.</p>`
      : html`<p>Execution <code>${story.executionName}</code> ${badge(story.status)}, started ${time(story.startedAt)}, stopped ${time(story.stoppedAt)}, redriven ${plural(story.redriveCount, 'time')}${story.redrivenAt === undefined ? '' : html` (last at ${time(story.redrivenAt)})`}.</p>
${story.error !== undefined && html`<p>Execution error: <code>${story.error}</code>${story.cause === undefined ? '' : html`: ${story.cause}`}</p>`}
${stoppedShort(story.status) && sagaRedriveForm(story.executionName, csrfToken)}`;
  return html`<figure class="saga" aria-labelledby="saga-heading">
<figcaption><h2 id="saga-heading">Saga</h2>${about}</figcaption>
${sagaGraph(definition, story)}
<ul class="legend" aria-label="Legend">
<li><span class="swatch outcome-succeeded"></span>succeeded</li><li><span class="swatch outcome-failed"></span>failed</li><li><span class="swatch outcome-running"></span>running</li><li><span class="swatch outcome-interrupted"></span>interrupted</li><li><span class="swatch outcome-not-reached"></span>not reached</li><li><span class="line-catch"></span>dashed arrow: a Catch, into the compensation column</li>
</ul>
${failedSteps.length > 0 && html`<h3>Failed steps</h3><ul class="failed-steps">${failedSteps}</ul>`}
</figure>`;
}

function deadLetters(story: OrderStory): Html {
  const findings = story.deadLetters.map((finding) => {
    const rows = finding.messages.map(
      (message) =>
        html`<tr><th scope="row"><code>${message.messageId}</code></th><td>${message.messageGroupId ?? '–'}</td><td class="number">${message.receiveCount ?? '?'}</td><td>${time(message.sentAt)}</td><td><pre>${prettyBody(message.body)}</pre></td></tr>`,
    );
    return html`<table><caption><a href="${consoleUrl.deadLetterQueue(finding.queue)}">${finding.queue}</a>: ${plural(finding.messages.length, 'message')} of this order, of about ${finding.approximateMessages} in the queue</caption>
<thead><tr><th scope="col">Message</th><th scope="col">Group</th><th scope="col">Receives</th><th scope="col">Sent</th><th scope="col">Body</th></tr></thead>
<tbody>${rows}</tbody></table>`;
  });
  return html`<section aria-labelledby="order-dead-letters-heading">
<h2 id="order-dead-letters-heading">Dead letters</h2>
${findings.length === 0 ? html`<p>No message of this order in the ${plural(story.deadLetterQueuesSearched.length, 'dead-letter queue')} searched.</p>` : findings}
</section>`;
}

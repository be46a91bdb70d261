import type { RedriveOutcome, SagaExecution } from '../../ops/sagas';
import { stoppedShort } from '../../ops/sagas';
import type { SagaStatusFilter } from '../backend';
import { type Html, html } from '../html';
import { consoleUrl } from '../routes';
import { badge, time } from './format';
import type { ConsolePage } from './layout';
import { sagaRedriveForm } from './parts';

export const SAGA_STATUS_FILTERS: readonly SagaStatusFilter[] = [
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'RUNNING',
  'SUCCEEDED',
];

/** The fulfilment executions' names start with this, followed by the order id. */
const FULFILLMENT_PREFIX = 'fulfillment-';

function executionName(name: string): Html {
  return name.startsWith(FULFILLMENT_PREFIX)
    ? html`<a href="${consoleUrl.order(name.slice(FULFILLMENT_PREFIX.length))}">${name}</a>`
    : html`${name}`;
}

/** Executions of one status, each stopped-short one with its Redrive button. */
export function sagasPage(
  status: SagaStatusFilter,
  executions: readonly SagaExecution[],
  csrfToken: string,
): ConsolePage {
  const options = SAGA_STATUS_FILTERS.map(
    (filter) => html`<option value="${filter}"${filter === status ? html` selected` : ''}>${filter}</option>`,
  );
  const rows = executions.map(
    (execution) =>
      html`<tr><th scope="row">${executionName(execution.name)}</th><td>${badge(execution.status)}</td><td>${time(execution.startDate)}</td><td>${time(execution.stopDate)}</td><td class="number">${execution.redriveCount}</td><td>${stoppedShort(execution.status) ? sagaRedriveForm(execution.name, csrfToken) : ''}</td></tr>`,
  );
  const main = html`<h1>Sagas</h1>
<form class="search" method="get" action="${consoleUrl.sagas()}">
<div class="field"><label for="status">Status</label><select id="status" name="status">${options}</select></div>
<div class="actions"><button type="submit">Show</button></div>
</form>
<table><caption>${status} executions</caption>
<thead><tr><th scope="col">Execution</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Stopped</th><th scope="col">Redrives</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="6">No ${status} executions.</td></tr>` : rows}</tbody></table>
<p class="hint">A redrive goes on from the failed state (locally: from the start); every step is idempotent, so steps that already ran change nothing. Only Standard workflows can be redriven, within 14 days of their stop.</p>`;
  return { title: 'Sagas', section: 'sagas', main };
}

/** What happened to the execution a Redrive button asked for. */
export function sagaRedrivePage(outcomes: readonly RedriveOutcome[]): ConsolePage {
  const items = outcomes.map((outcome) =>
    outcome.outcome === 'redriven'
      ? html`<li>${executionName(outcome.name)}: ${badge('RUNNING')} redriven${outcome.redriveDate === undefined ? '' : html` at ${time(outcome.redriveDate)}`}</li>`
      : html`<li>${executionName(outcome.name)}: ${outcome.outcome === 'not-found' ? 'not found' : 'not redrivable'}: ${outcome.reason}</li>`,
  );
  const main = html`<h1>Sagas</h1>
<h2>Redrive result</h2>
<ul class="result" role="status">${items}</ul>
<p><a href="${consoleUrl.sagas('RUNNING')}">Running executions</a> · <a href="${consoleUrl.sagas('FAILED')}">Failed executions</a></p>`;
  return { title: 'Saga redrive', section: 'sagas', main };
}

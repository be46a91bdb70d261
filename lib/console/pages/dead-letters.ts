import { prettyBody } from '../../ops/dlq';
import type { DeadLetterQueueMessages, DeadLetterQueueView, DeadLetterRedrive } from '../backend';
import { type Html, html } from '../html';
import { consoleUrl } from '../routes';
import { age, plural, time } from './format';
import type { ConsolePage } from './layout';
import { csrfField } from './parts';

/** Every dead-letter queue with its depth, its oldest message's age and where a redrive sends its messages. */
export function deadLettersPage(queues: readonly DeadLetterQueueView[], now: Date): ConsolePage {
  const rows = queues.map(
    (queue) =>
      html`<tr><th scope="row"><a href="${consoleUrl.deadLetterQueue(queue.name)}">${queue.name}</a></th><td class="number${queue.approximateMessages > 0 ? ' alarm' : ''}">${queue.approximateMessages}</td><td>${queue.oldestSentAt === undefined ? '–' : html`${age(queue.oldestSentAt, now)} <span class="muted">(${time(queue.oldestSentAt)})</span>`}</td><td>${queue.source ?? html`<span class="muted">no single source</span>`}</td></tr>`,
  );
  const main = html`<h1>Dead letters</h1>
<table><caption>Dead-letter queues</caption>
<thead><tr><th scope="col">Queue</th><th scope="col">Messages</th><th scope="col">Oldest message</th><th scope="col">Redrives to</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="4">No dead-letter queues.</td></tr>` : rows}</tbody></table>`;
  return { title: 'Dead letters', section: 'dead-letters', main };
}

function queueHeading(queue: string): Html {
  return html`<h1>Dead letters: ${queue}</h1>`;
}

/** A DLQ's messages, looked at without being consumed, and the form that leads to a redrive's confirmation. */
export function deadLetterQueuePage(view: DeadLetterQueueMessages, shownAtMost: number): ConsolePage {
  const { queue, messages } = view;
  const rows = messages.map(
    (message) =>
      html`<tr><th scope="row"><code>${message.messageId}</code></th><td>${message.messageGroupId ?? '–'}</td><td class="number">${message.receiveCount ?? '?'}</td><td>${time(message.sentAt)}</td><td><pre>${prettyBody(message.body)}</pre></td></tr>`,
  );
  const form =
    queue.source === undefined
      ? html`<p class="note">No single queue sends its failures here, so there is nowhere to redrive its messages to.</p>`
      : html`<form class="redrive" method="get" action="${consoleUrl.redrive(queue.name)}">
<h2>Redrive to ${queue.source}</h2>
<div class="field"><label for="max">Messages to move (empty: all)</label><input id="max" name="max" type="number" min="1" step="1" inputmode="numeric"></div>
<div class="actions"><button type="submit">Redrive</button></div>
<p class="hint">You confirm on the next page; nothing moves before that.</p>
</form>`;
  const main = html`${queueHeading(queue.name)}
<p>About ${plural(queue.approximateMessages, 'message')}${queue.oldestSentAt === undefined ? '' : html`, the oldest sent ${time(queue.oldestSentAt)}`}. Showing up to ${shownAtMost}; on a FIFO queue only the first message of each group can be seen while it is held.</p>
${form}
<table class="messages"><caption>Messages in ${queue.name}</caption>
<thead><tr><th scope="col">Message</th><th scope="col">Group</th><th scope="col">Receives</th><th scope="col">Sent</th><th scope="col">Body</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="5">No messages to show.</td></tr>` : rows}</tbody></table>`;
  return { title: `Dead letters: ${queue.name}`, section: 'dead-letters', main };
}

/** What a redrive will do, and the POST form that does it. */
export function redriveConfirmationPage(
  queue: DeadLetterQueueView,
  max: number | undefined,
  csrfToken: string,
): ConsolePage {
  const what =
    max === undefined
      ? `all its messages (about ${queue.approximateMessages})`
      : `up to ${plural(max, 'message')}`;
  const main =
    queue.source === undefined
      ? html`${queueHeading(queue.name)}
<h2>Confirm redrive</h2>
<p class="note">No single queue sends its failures to ${queue.name}, so there is nowhere to redrive its messages to.</p>`
      : html`${queueHeading(queue.name)}
<h2>Confirm redrive</h2>
<p>Move ${what} from ${queue.name} back to ${queue.source}, where they are processed again.</p>
<form method="post" action="${consoleUrl.redrive(queue.name)}">
${csrfField(csrfToken)}<input type="hidden" name="max" value="${max ?? ''}">
<div class="actions"><button type="submit">Confirm redrive</button> <a href="${consoleUrl.deadLetterQueue(queue.name)}">Cancel</a></div>
</form>`;
  return { title: `Confirm redrive: ${queue.name}`, section: 'dead-letters', main };
}

/** What moved. */
export function redriveResultPage(result: DeadLetterRedrive): ConsolePage {
  const main = html`${queueHeading(result.deadLetterQueue)}
<h2>Redrive done</h2>
<p class="result" role="status">Moved ${result.moved} message(s) to ${result.sourceQueue}</p>
${result.skipped > 0 && html`<p>Left ${plural(result.skipped, 'message')} in the queue that cannot go back as they are (a FIFO message without a group).</p>`}
<p><a href="${consoleUrl.deadLetterQueue(result.deadLetterQueue)}">Back to ${result.deadLetterQueue}</a> · <a href="${consoleUrl.deadLetters()}">All dead-letter queues</a></p>`;
  return { title: `Redrive done: ${result.deadLetterQueue}`, section: 'dead-letters', main };
}

import { html } from '../html';
import { consoleUrl } from '../routes';
import type { ConsolePage } from './layout';

const HEADINGS: Readonly<Record<number, string>> = {
  400: 'Bad request',
  403: 'Request refused',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Cannot do that',
};

/** Why a request failed, with the error's code, so the operator can tell a typo from an outage. */
export function errorPage(status: number, code: string, message: string): ConsolePage {
  const heading = HEADINGS[status] ?? 'Something went wrong';
  const advice =
    status === 403
      ? html`<p>Nothing was changed. Reload the page you came from and try again from there.</p>`
      : status >= 500
        ? html`<p>The console could not finish the request; the details above come from the failing call.</p>`
        : '';
  const main = html`<h1>${heading}</h1>
<p class="error-message">${message}</p>
<p class="muted">HTTP ${status} · code <code>${code}</code></p>
${advice}
<p><a href="${consoleUrl.overview()}">Back to the overview</a></p>`;
  return { title: heading, section: undefined, main };
}

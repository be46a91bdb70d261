import { type Html, html } from '../html';
import { consoleUrl } from '../routes';

/** Pieces more than one page shows. */

/** The hidden field that carries the CSRF token (the `console_csrf` cookie's value) in every POST form. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** One execution's Redrive button; the execution's name completes the button's accessible name. */
export function sagaRedriveForm(executionName: string, csrfToken: string): Html {
  return html`<form class="inline" method="post" action="${consoleUrl.sagaRedrive(executionName)}">${csrfField(csrfToken)}<button type="submit">Redrive<span class="visually-hidden"> ${executionName}</span></button></form>`;
}

import { ORDER_STATUSES } from '../../../functions/domain/order-status';
import type { OrderPage } from '../backend';
import { html } from '../html';
import { consoleUrl, type OrderFilter } from '../routes';
import { badge, money, time } from './format';
import type { ConsolePage } from './layout';

/** The search form (GET, so a search is a link that can be shared) and one page of matching orders. */
export function ordersPage(filter: OrderFilter, page: OrderPage): ConsolePage {
  const options = ORDER_STATUSES.map(
    (status) =>
      html`<option value="${status}"${status === filter.status ? html` selected` : ''}>${status}</option>`,
  );
  const rows = page.orders.map(
    (order) =>
      html`<tr><th scope="row"><a href="${consoleUrl.order(order.orderId)}">${order.orderId}</a></th><td>${order.customerId}</td><td>${badge(order.status)}</td><td class="number">${money(order.totalAmount, order.currency)}</td><td>${time(order.createdAt)}</td><td>${time(order.updatedAt)}</td></tr>`,
  );
  const { cursor, ...withoutCursor } = filter;
  const paging = [
    cursor !== undefined && html`<a href="${consoleUrl.orders(withoutCursor)}">First page</a>`,
    page.next !== undefined &&
      html`<a rel="next" href="${consoleUrl.orders({ ...withoutCursor, cursor: page.next })}">Next page</a>`,
  ];
  const main = html`<h1>Orders</h1>
<form class="search" method="get" action="${consoleUrl.orders()}" role="search" aria-label="Find orders">
<div class="field"><label for="orderId">Order id</label><input id="orderId" name="orderId" value="${filter.orderId ?? ''}" autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="customerId">Customer id</label><input id="customerId" name="customerId" value="${filter.customerId ?? ''}" autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="status">Status</label><select id="status" name="status"><option value="">Any status</option>${options}</select></div>
<div class="field"><label for="from">Created from</label><input id="from" name="from" value="${filter.from ?? ''}" placeholder="2026-12-07T12:00Z" aria-describedby="time-hint"></div>
<div class="field"><label for="to">Created before</label><input id="to" name="to" value="${filter.to ?? ''}" placeholder="2026-12-07T13:00Z" aria-describedby="time-hint"></div>
<div class="actions"><button type="submit">Search</button> <a href="${consoleUrl.orders()}">Clear</a></div>
<p id="time-hint" class="hint">Times in ISO 8601, UTC unless they say otherwise, e.g. 2026-12-07T12:00Z or 2026-12-07.</p>
</form>
<table><caption>${page.orders.length === 0 ? 'No orders match' : `Orders ${cursor === undefined ? '' : '(continued) '}matching the search`}</caption>
<thead><tr><th scope="col">Order</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Total</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
<tbody>${rows}</tbody>
</table>
${paging.some(Boolean) && html`<nav class="paging" aria-label="Pages">${paging}</nav>`}`;
  return { title: 'Orders', section: 'orders', main };
}

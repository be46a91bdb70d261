import { type Html, html } from '../html';

/** How the pages write times, ages, amounts and statuses, the same way on every page. */

/** A time as `2026-12-07 12:03:04 UTC` in a `<time>` element, or a dash when unknown. */
export function time(value: string | Date | undefined): Html {
  if (value === undefined) return html`<span class="unknown">–</span>`;
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return html`${String(value)}`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC</time>`;
}

const AGE_UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400],
  ['h', 3600],
  ['min', 60],
  ['s', 1],
];

/** How long ago, in the two largest units that matter: `42 s`, `5 min 3 s`, `3 h 12 min`, `2 d 4 h`. */
export function age(since: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(since).getTime()) / 1000));
  const index = AGE_UNITS.findIndex(([, size]) => seconds >= size);
  const largest = AGE_UNITS[index];
  if (largest === undefined) return '0 s';
  const whole = `${Math.floor(seconds / largest[1])} ${largest[0]}`;
  const next = AGE_UNITS[index + 1];
  const remainder = next === undefined ? 0 : Math.floor((seconds % largest[1]) / next[1]);
  return next === undefined || remainder === 0 ? whole : `${whole} ${remainder} ${next[0]}`;
}

/** An amount in minor units as its currency writes it (`EUR 25.00`, `JPY 2500`); unknown codes as they are. */
export function money(minorUnits: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat('en', { style: 'currency', currency, currencyDisplay: 'code' });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(minorUnits / 10 ** digits);
  } catch {
    return `${minorUnits} ${currency}`;
  }
}

/** A figure that may be a floor: the overview's counts when the count was capped. */
export function atLeast(count: number, complete: boolean): string {
  return complete ? count.toLocaleString('en') : `at least ${count.toLocaleString('en')}`;
}

const TONES: Readonly<Record<string, 'good' | 'bad' | 'warn' | 'busy'>> = {
  DELIVERED: 'good',
  FULFILLED: 'good',
  SHIPPED: 'good',
  SUCCEEDED: 'good',
  REFUNDED: 'good',
  FULFILLMENT_FAILED: 'bad',
  FAILED: 'bad',
  TIMED_OUT: 'bad',
  ABORTED: 'bad',
  PENDING_PAYMENT: 'warn',
  PENDING: 'warn',
  REFUND_PENDING: 'warn',
  PAID: 'busy',
  FULFILLING: 'busy',
  OUTBOUND: 'busy',
  RUNNING: 'busy',
};

/** A status as a badge; its words carry the meaning, the colour only repeats it. */
export function badge(status: string): Html {
  return html`<span class="badge badge-${TONES[status] ?? 'plain'}">${status}</span>`;
}

/** `1 message`, `3 messages`. */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en')} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Money is an integer count of the currency's minor unit (cents for USD, yen for JPY) with its ISO 4217 code.
 * Integers keep sums exact; the minor unit's size is the currency's business, not ours.
 */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

/**
 * The ISO 4217 codes the runtime's ICU data knows (all three upper-case letters, as `currencySchema` requires),
 * so we do not keep a hand-written list that goes stale.
 */
const ISO_4217_CODES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

export function isIsoCurrency(code: string): boolean {
  return ISO_4217_CODES.has(code);
}

/**
 * The largest amount we take in one order or payment: 99,999,999 minor units (999,999.99 in a two-decimal
 * currency). It is what payment providers accept in one charge (Stripe's limit is eight digits for most
 * currencies), so an order we accept can be paid; and sums of such amounts stay exact, far below
 * Number.MAX_SAFE_INTEGER.
 */
export const MAX_AMOUNT = 99_999_999;

/**
 * Money is an integer count of the currency's minor unit (cents for USD, yen for JPY) with its ISO 4217 code.
 * Integers keep sums exact; the minor unit's size is the currency's business, not ours.
 */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

/** The ISO 4217 codes the runtime's ICU data knows, so we do not keep a hand-written list that goes stale. */
const ISO_4217_CODES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

export function isIsoCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && ISO_4217_CODES.has(code);
}

/** Largest unit price we accept: keeps 100 items x 999 pieces far below Number.MAX_SAFE_INTEGER. */
export const MAX_UNIT_PRICE = 10_000_000_000;

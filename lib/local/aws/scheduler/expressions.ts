import { AT_EXPRESSION, RATE_EXPRESSION } from '../../../scheduler-api';
import { invalid } from './errors';

/** A parsed schedule expression: a one-time `at()` instant or a `rate()` interval. */
export type Expression =
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'rate'; readonly seconds: number };

const UNIT_SECONDS: Readonly<Record<string, number>> = { minute: 60, hour: 3600, day: 86_400 };

export function parseExpression(text: string): Expression {
  const at = AT_EXPRESSION.exec(text);
  if (at !== null) return { kind: 'at', at: parseAt(text, at) };
  const rate = RATE_EXPRESSION.exec(text);
  if (rate !== null) {
    const value = Number(rate[1]);
    const unit = (rate[2] ?? '').replace(/s$/, '');
    const unitSeconds = UNIT_SECONDS[unit];
    if (value < 1 || unitSeconds === undefined) throw invalid(`Invalid Schedule Expression ${text}.`);
    return { kind: 'rate', seconds: value * unitSeconds };
  }
  if (text.startsWith('cron(')) {
    throw invalid(`cron() expressions are not supported by the local scheduler: ${text}`);
  }
  throw invalid(`Invalid Schedule Expression ${text}.`);
}

function parseAt(text: string, match: RegExpExecArray): number {
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const instant = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(instant);
  // Date.UTC rolls 2025-02-30 over to March; AWS rejects such dates, and so does this round trip.
  if (
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw invalid(`Invalid Schedule Expression ${text}.`);
  }
  return instant;
}

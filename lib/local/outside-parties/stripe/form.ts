/**
 * Decodes Stripe's form encoding (`metadata[orderId]=o-1`, `payment_method_types[0]=card`, `expand[]=x`), in
 * bodies and query strings alike, into nested values. Written here rather than taken from `qs`: `qs` is only a
 * transitive dependency without types, and Stripe's subset (brackets, indexed or empty-index arrays, no dots,
 * no `[]` inside objects of arrays) fits in a few lines; a shape `qs` would build but Stripe refuses
 * (`a=1&a[b]=2`) must be refused here, which `qs` would silently merge.
 */

import { LocalServerError } from '../../http';

/** A decoded value: a string, or an object or array of them. */
export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/** Two pairs gave one parameter incompatible shapes; the message names the parameter. */
export class FormShapeError extends LocalServerError {
  public override readonly name = 'FormShapeError';

  public constructor(public readonly param: string) {
    super(
      'STRIPE_FAKE_FORM_SHAPE',
      `Invalid value for ${param}: a parameter cannot be both a value and a hash or an array.`,
    );
  }
}

/** `a[b][0]` -> `['a', 'b', '0']`; `a[]` -> `['a', '']`. */
function pathOf(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return [key];
  return [key.slice(0, open), ...key.slice(open + 1, -1).split('][')];
}

function isObject(value: FormValue | undefined): value is FormObject {
  return typeof value === 'object' && !Array.isArray(value);
}

/** Arrays are built as objects keyed by index first; this turns every all-index object into an array. */
function finish(value: FormValue): FormValue {
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  const entries = keys.map((key) => [key, finish(value[key] as FormValue)] as const);
  if (keys.length > 0 && keys.every((key) => /^\d+$/.test(key))) {
    return entries.sort(([left], [right]) => Number(left) - Number(right)).map(([, item]) => item);
  }
  return Object.fromEntries(entries);
}

export function decodeForm(text: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const path = pathOf(key);
    let node = root;
    for (const [index, raw] of path.entries()) {
      const name = path.slice(0, index + 1).join('.');
      // `x[]` appends: its index is the count of what the array holds so far.
      const part = raw === '' ? String(Object.keys(node).length) : raw;
      if (index === path.length - 1) {
        if (node[part] !== undefined && typeof node[part] !== 'string') throw new FormShapeError(name);
        node[part] = value;
        break;
      }
      const next = node[part] ?? {};
      if (!isObject(next)) throw new FormShapeError(name);
      node[part] = next;
      node = next;
    }
  }
  return finish(root) as FormObject;
}

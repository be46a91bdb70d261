/**
 * The console's only way to write markup: a tagged template that escapes every value put into it, unless the
 * value was itself made by this template. A page therefore cannot emit an order id, a queue message or an error
 * message as markup, however it is spelt. There is deliberately no "raw" escape hatch.
 *
 * The escaping suits text and quoted attribute values; templates always quote attributes (`href="${url}"`), and
 * URLs are built from constant paths with `encodeURIComponent`-encoded parts (see `routes.ts`), never taken
 * from data whole, so no `javascript:` URL can appear.
 */

/**
 * Markup made by {@link html}: the one kind of value that is inserted unescaped. Exported as a type only, so no
 * other module can construct one; its private field makes the type nominal, so no look-alike object passes.
 */
class HtmlMarkup {
  readonly #markup: string;

  public constructor(markup: string) {
    this.#markup = markup;
  }

  public toString(): string {
    return this.#markup;
  }
}

export type { HtmlMarkup as Html };

/**
 * What a template accepts: markup, text and numbers (escaped), lists of those (concatenated), and `false`,
 * `null` or `undefined` for nothing, so `${condition && html`...`}` and optional parts read naturally.
 */
export type HtmlValue = HtmlMarkup | string | number | false | null | undefined | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for element content and quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

function render(value: HtmlValue): string {
  if (value instanceof HtmlMarkup) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === false || value === null || value === undefined) return '';
  return escapeHtml(String(value));
}

/** `html\`<p>${text}</p>\``: the literal parts as written, every value escaped unless it is markup. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): HtmlMarkup {
  let markup = strings[0] ?? '';
  for (const [index, value] of values.entries()) markup += render(value) + (strings[index + 1] ?? '');
  return new HtmlMarkup(markup);
}

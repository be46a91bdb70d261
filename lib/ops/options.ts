/**
 * Removes the option `name` and the word after it from `words` and answers that word; `undefined` when the option
 * is absent. An option followed by nothing or by another option is refused with the error `refused` makes.
 */
export function takeOption(
  words: string[],
  name: string,
  refused: (problem: string) => Error,
): string | undefined {
  const index = words.indexOf(name);
  if (index < 0) return undefined;
  const value = words[index + 1];
  if (value === undefined || value.startsWith('--')) throw refused(`${name} needs a value`);
  words.splice(index, 2);
  return value;
}

/**
 * The placeholder convention shared by every reader of an Amazon States Language file.
 *
 * An ASL author writes `${FunctionArn_<name>}` wherever a declared function's ARN belongs, with `<name>` the
 * function's name in `lib/model.ts` and each `-` replaced by `_` (for `payment-webhook`:
 * `${FunctionArn_payment_webhook}`). The CDK stack substitutes the deployed ARN through Step Functions'
 * `DefinitionSubstitutions`, which accept only letters, digits and underscores in a key; the local runtime
 * substitutes an ARN that it maps to the local handler. This file imports nothing from the CDK so the local
 * runtime can use it too.
 */

const FUNCTION_ARN_PREFIX = 'FunctionArn_';
const PLACEHOLDER = /\$\{FunctionArn_([A-Za-z0-9_]+)\}/g;

/** The `DefinitionSubstitutions` key for a declared function, e.g. `FunctionArn_payment_webhook`. */
export function functionArnSubstitutionKey(functionName: string): string {
  return `${FUNCTION_ARN_PREFIX}${functionName.replaceAll('-', '_')}`;
}

/** The text an ASL author writes for a declared function's ARN, e.g. `${FunctionArn_payment_webhook}`. */
export function functionArnPlaceholder(functionName: string): string {
  return `\${${functionArnSubstitutionKey(functionName)}}`;
}

/**
 * The substitution keys an ASL text uses, deduplicated, in order of first use. Callers compare them with the
 * declared functions so a typo fails the build instead of leaving a literal `${...}` in a deployed definition.
 */
export function functionArnKeysIn(definition: string): string[] {
  const keys = new Set<string>();
  for (const match of definition.matchAll(PLACEHOLDER)) {
    keys.add(`${FUNCTION_ARN_PREFIX}${match[1] ?? ''}`);
  }
  return [...keys];
}

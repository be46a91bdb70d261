/**
 * The customers' password policy, in one place for the three that need it: the Cognito user pool the stack
 * creates, the local user pool that stands in for it, and `ops customers create`, which generates passwords that
 * must pass it. A module of its own so that the ops CLI and the local runtime need not load the CDK.
 */
export const CUSTOMER_PASSWORD_POLICY = {
  minLength: 12,
  requireLowercase: true,
  requireUppercase: true,
  requireDigits: true,
  requireSymbols: true,
} as const;

/** The characters Cognito counts as symbols in a password policy. */
const COGNITO_PASSWORD_SYMBOLS = '^$*.[]{}()?"!@#%&/\\,><\':;|_~`=+-';

/**
 * Why `password` fails {@link CUSTOMER_PASSWORD_POLICY}, in Cognito's words (the text after "Password does not
 * conform to policy: "), or undefined when it passes.
 */
export function passwordPolicyViolation(password: string): string | undefined {
  const policy = CUSTOMER_PASSWORD_POLICY;
  if (password.length < policy.minLength) return 'Password not long enough';
  if (policy.requireLowercase && !/[a-z]/.test(password)) return 'Password must have lowercase characters';
  if (policy.requireUppercase && !/[A-Z]/.test(password)) return 'Password must have uppercase characters';
  if (policy.requireDigits && !/[0-9]/.test(password)) return 'Password must have numeric characters';
  if (
    policy.requireSymbols &&
    ![...password].some((character) => COGNITO_PASSWORD_SYMBOLS.includes(character))
  ) {
    return 'Password must have symbol characters';
  }
  return undefined;
}

import { randomInt } from 'node:crypto';
import {
  AdminCreateUserCommand,
  AdminInitiateAuthCommand,
  type AdminInitiateAuthCommandOutput,
  AdminSetUserPasswordCommand,
  type CognitoIdentityProviderClient,
  NotAuthorizedException,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { CUSTOMER_PASSWORD_POLICY, passwordPolicyViolation } from '../customer-password-policy';

/**
 * `customers create <email> | customers token <email> --password-stdin`: customers of the user pool and tokens
 * for them, through Cognito's administrator API with the operator's AWS credentials (locally, the local user
 * pool), so a deployed stack can be tried without a shop front and without opening the public app client to
 * password sign-in. `create` makes a confirmed customer with a generated password; `token` signs them in with
 * ADMIN_USER_PASSWORD_AUTH and prints the access token, which the HTTP API's JWT authorizer accepts by its
 * `client_id`.
 */

export interface CustomersCommandContext {
  readonly cognito: CognitoIdentityProviderClient;
  /** The stack output `CustomerUserPoolId`. */
  readonly userPoolId: string;
  /** The stack output `CustomerUserPoolClientId`. */
  readonly clientId: string;
  /** Receives every line of output. */
  readonly out: (line: string) => void;
  /** All of standard input, read only for `--password-stdin`. */
  readonly readStdin: () => Promise<string>;
}

export type CustomersResult =
  | { readonly command: 'create'; readonly email: string; readonly sub: string; readonly password: string }
  | { readonly command: 'token'; readonly email: string; readonly accessToken: string };

/** Stable codes of the command's errors. */
export const CustomersCommandErrorCode = {
  USAGE: 'CUSTOMERS_USAGE',
  EXISTS: 'CUSTOMER_EXISTS',
  NOT_FOUND: 'CUSTOMER_NOT_FOUND',
  SIGN_IN_REFUSED: 'CUSTOMER_SIGN_IN_REFUSED',
  CHALLENGE: 'CUSTOMER_SIGN_IN_CHALLENGE',
} as const;

export type CustomersCommandErrorCode =
  (typeof CustomersCommandErrorCode)[keyof typeof CustomersCommandErrorCode];

export abstract class CustomersCommandError extends Error {
  public abstract readonly code: CustomersCommandErrorCode;
}

export const CUSTOMERS_USAGE = 'usage: customers create <email> | customers token <email> --password-stdin';

export class CustomersUsageError extends CustomersCommandError {
  public override readonly name = 'CustomersUsageError';
  public readonly code = CustomersCommandErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${CUSTOMERS_USAGE}`);
  }
}

/** `create` named an email the pool already has: its password cannot be shown again, so nothing is printed. */
export class CustomerExistsError extends CustomersCommandError {
  public override readonly name = 'CustomerExistsError';
  public readonly code = CustomersCommandErrorCode.EXISTS;

  public constructor(public readonly email: string) {
    super(
      `a customer ${email} exists already; its password was shown when it was created and is kept nowhere`,
    );
  }
}

/** The pool has no such user (only an app client that does not hide user existence says so). */
export class CustomerNotFoundError extends CustomersCommandError {
  public override readonly name = 'CustomerNotFoundError';
  public readonly code = CustomersCommandErrorCode.NOT_FOUND;

  public constructor(public readonly email: string) {
    super(`no customer ${email} in the user pool`);
  }
}

/** Wrong password or unknown email: the app client hides user existence, so Cognito does not say which. */
export class CustomerSignInRefusedError extends CustomersCommandError {
  public override readonly name = 'CustomerSignInRefusedError';
  public readonly code = CustomersCommandErrorCode.SIGN_IN_REFUSED;

  public constructor(
    public readonly email: string,
    cognitoMessage: string,
  ) {
    super(`the user pool refused ${email}: ${cognitoMessage} (a wrong password, or no such customer)`);
  }
}

/** Cognito wants more than the password (a new password, an MFA code...): this command does not answer it. */
export class CustomerSignInChallengeError extends CustomersCommandError {
  public override readonly name = 'CustomerSignInChallengeError';
  public readonly code = CustomersCommandErrorCode.CHALLENGE;

  public constructor(
    public readonly email: string,
    public readonly challenge: string,
  ) {
    super(
      `the user pool asks ${email} for ${challenge} before it issues tokens; ${
        challenge === 'NEW_PASSWORD_REQUIRED'
          ? 'the customer has only a temporary password: give it a permanent one (aws cognito-idp admin-set-user-password --permanent)'
          : 'sign in through the shop front, which can answer it'
      }`,
    );
  }
}

const ADMIN_PASSWORD_FLOW = 'ADMIN_USER_PASSWORD_AUTH';
const GENERATED_PASSWORD_LENGTH = 24;
/** Symbols that Cognito accepts and no shell treats specially inside double quotes or a here-string. */
const PASSWORD_SYMBOLS = '-_.:,+=@%^~';
const PASSWORD_CLASSES = [
  'abcdefghijklmnopqrstuvwxyz',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  PASSWORD_SYMBOLS,
] as const;

/**
 * Runs `customers create <email>` or `customers token <email> --password-stdin` (a leading `customers` is
 * accepted too) and returns what it printed.
 *
 * @throws {@link CustomersCommandError} subclasses for bad arguments and the refusals above; other SDK errors as
 * they come
 */
export async function runCustomersCommand(
  args: readonly string[],
  context: CustomersCommandContext,
): Promise<CustomersResult> {
  const words = args[0] === 'customers' ? args.slice(1) : [...args];
  const passwordStdin = words.includes('--password-stdin');
  const [command, email, ...extra] = words.filter((word) => word !== '--password-stdin');
  if (command !== 'create' && command !== 'token') {
    throw new CustomersUsageError(command === undefined ? 'no command given' : `no command ${command}`);
  }
  if (email === undefined || email.startsWith('--')) {
    throw new CustomersUsageError(`${command} needs an email`);
  }
  if (extra.length > 0) throw new CustomersUsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'create') {
    if (passwordStdin) throw new CustomersUsageError('create generates the password; it reads none');
    return await createCustomer(email, context);
  }
  if (!passwordStdin) {
    throw new CustomersUsageError('token reads the password from standard input: pass --password-stdin');
  }
  return await customerToken(email, passwordFrom(await context.readStdin()), context);
}

async function createCustomer(email: string, context: CustomersCommandContext): Promise<CustomersResult> {
  const { cognito, userPoolId, out } = context;
  let sub: string | undefined;
  try {
    const { User } = await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
        // The operator hands the password over; Cognito's invitation would carry a temporary one instead.
        MessageAction: 'SUPPRESS',
      }),
    );
    sub = User?.Attributes?.find((attribute) => attribute.Name === 'sub')?.Value;
  } catch (error) {
    if (error instanceof UsernameExistsException) throw new CustomerExistsError(email);
    throw error;
  }
  if (sub === undefined) throw new Error(`the user pool created ${email} but answered no sub`);
  const password = generatePassword();
  await cognito.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: userPoolId,
      Username: email,
      Password: password,
      Permanent: true,
    }),
  );
  out(`Customer ${email} created.`);
  out(`  sub:      ${sub}`);
  out(`  password: ${password}`);
  out('The password is shown this once and kept nowhere: hand it to the customer now.');
  return { command: 'create', email, sub, password };
}

async function customerToken(
  email: string,
  password: string,
  context: CustomersCommandContext,
): Promise<CustomersResult> {
  const { cognito, userPoolId, clientId, out } = context;
  let answer: AdminInitiateAuthCommandOutput;
  try {
    answer = await cognito.send(
      new AdminInitiateAuthCommand({
        UserPoolId: userPoolId,
        ClientId: clientId,
        AuthFlow: ADMIN_PASSWORD_FLOW,
        AuthParameters: { USERNAME: email, PASSWORD: password },
      }),
    );
  } catch (error) {
    if (error instanceof NotAuthorizedException) throw new CustomerSignInRefusedError(email, error.message);
    if (error instanceof UserNotFoundException) throw new CustomerNotFoundError(email);
    throw error;
  }
  if (answer.ChallengeName !== undefined) throw new CustomerSignInChallengeError(email, answer.ChallengeName);
  const accessToken = answer.AuthenticationResult?.AccessToken;
  if (accessToken === undefined)
    throw new Error(`the user pool signed ${email} in but answered no access token`);
  out(accessToken);
  return { command: 'token', email, accessToken };
}

/** Standard input less the one line break `echo` or a here-string adds; passwords cannot end in whitespace. */
function passwordFrom(input: string): string {
  const password = input.replace(/\r?\n$/, '');
  if (password.length === 0) throw new CustomersUsageError('standard input held no password');
  return password;
}

/** A random password of every character class, checked against the pool's policy before it is used. */
export function generatePassword(): string {
  const alphabet = PASSWORD_CLASSES.join('');
  const characters = PASSWORD_CLASSES.map((members) => members[randomInt(members.length)] ?? '');
  while (characters.length < Math.max(GENERATED_PASSWORD_LENGTH, CUSTOMER_PASSWORD_POLICY.minLength)) {
    characters.push(alphabet[randomInt(alphabet.length)] ?? '');
  }
  // Fisher-Yates, so the guaranteed characters are not always the first four.
  for (let index = characters.length - 1; index > 0; index -= 1) {
    const other = randomInt(index + 1);
    [characters[index], characters[other]] = [characters[other] ?? '', characters[index] ?? ''];
  }
  const password = characters.join('');
  const violation = passwordPolicyViolation(password);
  if (violation !== undefined) throw new Error(`a generated password broke the policy: ${violation}`);
  return password;
}

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdminCreateUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  InvalidParameterException,
  InvalidPasswordException,
  NotAuthorizedException,
  ResourceNotFoundException,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { passwordPolicyViolation } from '../../lib/customer-password-policy';
import { createLocalIssuer, type LocalIssuer } from '../../lib/local/aws/local-issuer';
import { type LocalUserPool, startLocalUserPool, UserPoolDataError } from '../../lib/local/aws/user-pool';
import {
  CustomerExistsError,
  CustomerSignInChallengeError,
  CustomerSignInRefusedError,
  type CustomersCommandContext,
  CustomersCommandErrorCode,
  CustomersUsageError,
  generatePassword,
  runCustomersCommand,
} from '../../lib/ops/customers';
import { TEST_CREDENTIALS } from '../support/dynamodb';

const REGION = 'us-east-1';
const STRONG = 'Correct-Horse-9-Battery';

/** Captures a rejection at once, so a promise awaited later is never reported as unhandled. */
const outcome = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );

let issuer: LocalIssuer;
let pool: LocalUserPool;
let cognito: CognitoIdentityProviderClient;
let emailCount = 0;

/** A fresh address per test, as every test shares the one pool. */
function newEmail(): string {
  emailCount += 1;
  return `customer-${emailCount}@shop.example`;
}

function clientFor(endpoint: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({ endpoint, region: REGION, credentials: TEST_CREDENTIALS });
}

beforeAll(async () => {
  issuer = await createLocalIssuer({ gatewayUrl: 'http://127.0.0.1:3000', tokenLifetimeSeconds: 60 });
  pool = await startLocalUserPool({ issuer, region: REGION });
  cognito = clientFor(pool.url);
});

afterAll(async () => {
  cognito?.destroy();
  await pool?.stop();
});

async function createConfirmed(email: string, password = STRONG): Promise<string> {
  const { User } = await cognito.send(
    new AdminCreateUserCommand({
      UserPoolId: pool.userPoolId,
      Username: email,
      UserAttributes: [{ Name: 'email_verified', Value: 'true' }],
      MessageAction: 'SUPPRESS',
    }),
  );
  await cognito.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: pool.userPoolId,
      Username: email,
      Password: password,
      Permanent: true,
    }),
  );
  return User?.Attributes?.find((attribute) => attribute.Name === 'sub')?.Value ?? '';
}

function signIn(email: string, password: string, client = cognito, clientId = pool.clientId) {
  return client.send(
    new AdminInitiateAuthCommand({
      UserPoolId: pool.userPoolId,
      ClientId: clientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  );
}

describe('the local Cognito user pool, through the SDK', () => {
  it('creates a customer, sets a permanent password and signs them in with tokens the authorizer accepts', async () => {
    // Prepare
    const email = newEmail();

    // Act
    const created = await cognito.send(
      new AdminCreateUserCommand({ UserPoolId: pool.userPoolId, Username: email, MessageAction: 'SUPPRESS' }),
    );
    const sub = created.User?.Attributes?.find((attribute) => attribute.Name === 'sub')?.Value;
    await cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: pool.userPoolId,
        Username: email.toUpperCase(),
        Password: STRONG,
        Permanent: true,
      }),
    );
    const signedIn = await signIn(email, STRONG);

    // Assess
    expect(created.User).toMatchObject({ Username: sub, Enabled: true, UserStatus: 'FORCE_CHANGE_PASSWORD' });
    expect(created.User?.UserCreateDate).toBeInstanceOf(Date);
    expect(sub).toMatch(/^[0-9a-f-]{36}$/);
    const result = signedIn.AuthenticationResult;
    expect(result).toMatchObject({ TokenType: 'Bearer', ExpiresIn: 60 });
    const access = decodeJwt(result?.AccessToken ?? '');
    const id = decodeJwt(result?.IdToken ?? '');
    expect(access).toMatchObject({ sub, client_id: pool.clientId, token_use: 'access', iss: issuer.issuer });
    expect(access.aud).toBeUndefined();
    expect(id).toMatchObject({ sub, aud: pool.clientId, token_use: 'id', email });
    for (const token of [result?.AccessToken, result?.IdToken]) {
      const decision = await issuer.authorizer.authorize(`Bearer ${token}`);
      expect(decision).toMatchObject({ allowed: true, context: { jwt: { claims: { sub } } } });
    }
  });

  it("answers Cognito's errors: existing email, unknown user, wrong password, weak password, foreign pool or client", async () => {
    // Prepare
    const email = newEmail();
    await createConfirmed(email);

    // Act
    const [existing, unknownUser, wrongPassword, unknownSignIn, weak, foreignPool, foreignClient, notEmail] =
      await Promise.all([
        outcome(
          cognito.send(
            new AdminCreateUserCommand({ UserPoolId: pool.userPoolId, Username: email.toUpperCase() }),
          ),
        ),
        outcome(
          cognito.send(
            new AdminSetUserPasswordCommand({
              UserPoolId: pool.userPoolId,
              Username: 'nobody@shop.example',
              Password: STRONG,
              Permanent: true,
            }),
          ),
        ),
        outcome(signIn(email, `${STRONG}x`)),
        outcome(signIn('nobody@shop.example', STRONG)),
        outcome(
          cognito.send(
            new AdminSetUserPasswordCommand({
              UserPoolId: pool.userPoolId,
              Username: email,
              Password: 'alllowercase-but-long-1',
              Permanent: true,
            }),
          ),
        ),
        outcome(
          cognito.send(new AdminCreateUserCommand({ UserPoolId: 'us-east-1_other', Username: newEmail() })),
        ),
        outcome(signIn(email, STRONG, cognito, 'another-client')),
        outcome(
          cognito.send(new AdminCreateUserCommand({ UserPoolId: pool.userPoolId, Username: 'not-an-email' })),
        ),
      ]);

    // Assess
    expect(existing).toBeInstanceOf(UsernameExistsException);
    expect(unknownUser).toBeInstanceOf(UserNotFoundException);
    // The app client hides whether a user exists, as the stack's does: both refusals read the same.
    expect(wrongPassword).toBeInstanceOf(NotAuthorizedException);
    expect(unknownSignIn).toBeInstanceOf(NotAuthorizedException);
    expect((unknownSignIn as Error).message).toBe((wrongPassword as Error).message);
    expect(weak).toBeInstanceOf(InvalidPasswordException);
    expect((weak as Error).message).toBe(
      'Password does not conform to policy: Password must have uppercase characters',
    );
    expect(foreignPool).toBeInstanceOf(ResourceNotFoundException);
    expect(foreignClient).toBeInstanceOf(ResourceNotFoundException);
    expect(notEmail).toBeInstanceOf(InvalidParameterException);
    expect((await signIn(email, STRONG)).AuthenticationResult?.AccessToken).toBeDefined();
  });

  it('offers no flow but the admin password one, and asks a customer with a temporary password for a new one', async () => {
    // Prepare
    const email = newEmail();
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: pool.userPoolId,
        Username: email,
        TemporaryPassword: STRONG,
        MessageAction: 'SUPPRESS',
      }),
    );

    // Act
    const challenged = await signIn(email, STRONG);
    const otherFlow = await outcome(
      cognito.send(
        new AdminInitiateAuthCommand({
          UserPoolId: pool.userPoolId,
          ClientId: pool.clientId,
          AuthFlow: 'USER_PASSWORD_AUTH',
          AuthParameters: { USERNAME: email, PASSWORD: STRONG },
        }),
      ),
    );

    // Assess
    expect(challenged.ChallengeName).toBe('NEW_PASSWORD_REQUIRED');
    expect(challenged.Session).toEqual(expect.any(String));
    expect(challenged.AuthenticationResult).toBeUndefined();
    expect(otherFlow).toBeInstanceOf(InvalidParameterException);
  });
});

describe('the local user pool with a data file', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'user-pool-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps customers across a restart, with a scrypt hash and never the password', async () => {
    // Prepare
    const dataFile = join(directory, 'cognito', 'users.json');
    const email = newEmail();
    const first = await startLocalUserPool({ issuer, region: REGION, dataFile });
    const firstClient = clientFor(first.url);
    let sub: string | undefined;
    try {
      const { User } = await firstClient.send(
        new AdminCreateUserCommand({
          UserPoolId: first.userPoolId,
          Username: email,
          MessageAction: 'SUPPRESS',
        }),
      );
      sub = User?.Username;
      await firstClient.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: first.userPoolId,
          Username: email,
          Password: STRONG,
          Permanent: true,
        }),
      );
    } finally {
      firstClient.destroy();
      await first.stop();
    }

    // Act
    const stored = await readFile(dataFile, 'utf8');
    const second = await startLocalUserPool({ issuer, region: REGION, dataFile });
    const secondClient = clientFor(second.url);
    try {
      const signedIn = await signIn(email, STRONG, secondClient);

      // Assess
      expect(decodeJwt(signedIn.AuthenticationResult?.AccessToken ?? '').sub).toBe(sub);
      expect(stored).toContain(email);
      expect(stored).not.toContain(STRONG);
      expect(JSON.parse(stored).users[0].password).toEqual({
        salt: expect.any(String),
        hash: expect.any(String),
      });
    } finally {
      secondClient.destroy();
      await second.stop();
    }
  });

  it('refuses to start on a file it did not write', async () => {
    // Prepare
    const notJson = join(directory, 'not-json.json');
    const otherShape = join(directory, 'other-shape.json');
    await writeFile(notJson, '{"users": [');
    await writeFile(otherShape, '{"users": [{"email": "a@shop.example"}]}');

    // Act
    const refusals = await Promise.all(
      [notJson, otherShape].map((dataFile) =>
        outcome(startLocalUserPool({ issuer, region: REGION, dataFile })),
      ),
    );

    // Assess
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(UserPoolDataError);
      expect(refusal).toMatchObject({ code: 'LOCAL_USER_POOL_DATA_INVALID' });
    }
  });
});

describe('npm run ops -- customers, against the local user pool', () => {
  const printed: string[] = [];
  let stdin = '';

  function context(): CustomersCommandContext {
    return {
      cognito,
      userPoolId: pool.userPoolId,
      clientId: pool.clientId,
      out: (line) => printed.push(line),
      readStdin: async () => stdin,
    };
  }

  afterEach(() => {
    printed.splice(0);
    stdin = '';
  });

  it('creates a customer with a generated password shown once, and prints only the access token for it', async () => {
    // Prepare
    const email = newEmail();

    // Act
    const created = await runCustomersCommand(['create', email], context());
    const createdLines = printed.splice(0);
    if (created.command !== 'create') throw new Error('create answered something else');
    stdin = `${created.password}\n`;
    const token = await runCustomersCommand(['customers', 'token', email, '--password-stdin'], context());

    // Assess
    expect(passwordPolicyViolation(created.password)).toBeUndefined();
    expect(createdLines).toEqual([
      `Customer ${email} created.`,
      `  sub:      ${created.sub}`,
      `  password: ${created.password}`,
      'The password is shown this once and kept nowhere: hand it to the customer now.',
    ]);
    expect(token.command).toBe('token');
    expect(printed).toHaveLength(1);
    expect(decodeJwt(printed[0] ?? '')).toMatchObject({ sub: created.sub, token_use: 'access' });
  });

  it('refuses an existing email, a wrong password, an unknown customer and a pending new password with typed errors', async () => {
    // Prepare
    const email = newEmail();
    const pending = newEmail();
    await createConfirmed(email);
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: pool.userPoolId,
        Username: pending,
        TemporaryPassword: STRONG,
        MessageAction: 'SUPPRESS',
      }),
    );
    const token = async (who: string, password: string) => {
      stdin = password;
      return await outcome(runCustomersCommand(['token', who, '--password-stdin'], context()));
    };

    // Act
    const existing = await outcome(runCustomersCommand(['create', email], context()));
    const wrongPassword = await token(email, 'Wrong-password-1');
    const unknown = await token('nobody@shop.example', STRONG);
    const challenged = await token(pending, STRONG);

    // Assess
    expect(existing).toBeInstanceOf(CustomerExistsError);
    expect(existing).toMatchObject({ code: CustomersCommandErrorCode.EXISTS });
    for (const refusal of [wrongPassword, unknown]) {
      expect(refusal).toBeInstanceOf(CustomerSignInRefusedError);
      expect(refusal).toMatchObject({ code: CustomersCommandErrorCode.SIGN_IN_REFUSED });
    }
    expect(challenged).toBeInstanceOf(CustomerSignInChallengeError);
    expect(challenged).toMatchObject({
      code: CustomersCommandErrorCode.CHALLENGE,
      challenge: 'NEW_PASSWORD_REQUIRED',
    });
    expect(printed).toEqual([]);
  });

  it('refuses calls without a command, an email, or with the password anywhere but standard input', async () => {
    // Act
    const refusals = await Promise.all(
      [
        [],
        ['create'],
        ['token', newEmail()],
        ['create', newEmail(), '--password-stdin'],
        ['delete', newEmail()],
      ].map((args) => outcome(runCustomersCommand(args, context()))),
    );
    stdin = '\n';
    const empty = await outcome(runCustomersCommand(['token', newEmail(), '--password-stdin'], context()));

    // Assess
    for (const refusal of [...refusals, empty]) {
      expect(refusal).toBeInstanceOf(CustomersUsageError);
      expect(refusal).toMatchObject({ code: CustomersCommandErrorCode.USAGE });
    }
  });

  it('generates passwords of every character class that need no quoting beyond double quotes', () => {
    // Act
    const passwords = Array.from({ length: 200 }, generatePassword);

    // Assess
    expect(new Set(passwords).size).toBe(passwords.length);
    for (const password of passwords) {
      expect(passwordPolicyViolation(password)).toBeUndefined();
      expect(password).toMatch(/^[A-Za-z0-9\-_.:,+=@%^~]{24}$/);
    }
  });
});

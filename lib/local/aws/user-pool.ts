import { randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { passwordPolicyViolation } from '../../customer-password-policy';
import { type JsonObject, LocalServerError, startLoopbackServer } from '../http';
import {
  AwsApiError,
  type JsonTargetProtocol,
  type JsonTargetRefusalCode,
  jsonTargetHandler,
  validateInput,
} from './aws-protocol-server';
import type { LocalIssuer } from './local-issuer';

/**
 * A local stand-in for the stack's Cognito user pool, for the administrator operations `npm run ops -- customers`
 * makes: AdminCreateUser, AdminSetUserPassword and AdminInitiateAuth with ADMIN_USER_PASSWORD_AUTH, over the
 * cognito-idp JSON 1.1 protocol, so `@aws-sdk/client-cognito-identity-provider` runs against it unchanged. It
 * behaves as the stack's pool and app client are configured: email is the username (case-insensitive), the
 * customers' password policy, user-existence errors hidden at sign-in. Its tokens come from the local issuer, so
 * the gateway's JWT authorizer accepts them as API Gateway's accepts Cognito's.
 *
 * Not modelled: invitation messages (none are ever sent), MFA, refresh tokens, other operations.
 */

export interface LocalUserPoolOptions {
  /** Signs the tokens; its audience is the pool's app client id. */
  readonly issuer: LocalIssuer;
  readonly region: string;
  /** A file that keeps the users (password hashes only) across restarts. Default: in memory only. */
  readonly dataFile?: string;
  /** Default: a free loopback port. */
  readonly port?: number;
  readonly now?: () => Date;
}

export interface LocalUserPool {
  /** Base URL for a cognito-idp client's `endpoint`. */
  readonly url: string;
  /** The pool's id, which every request must name. */
  readonly userPoolId: string;
  /** The app client's id: the local issuer's audience. */
  readonly clientId: string;
  stop(): Promise<void>;
}

/** Error types of the Cognito user pools API that this endpoint answers with. */
export type CognitoApiErrorType =
  | JsonTargetRefusalCode
  | 'InvalidParameterException'
  | 'ResourceNotFoundException'
  | 'UsernameExistsException'
  | 'UserNotFoundException'
  | 'NotAuthorizedException'
  | 'InvalidPasswordException';

/** An API call the local user pool refuses, answered with Cognito's error shape of the same `code`. */
export class CognitoApiError extends AwsApiError<CognitoApiErrorType> {
  public override readonly name = 'CognitoApiError';
}

/** The users file is not one this module wrote. */
export class UserPoolDataError extends LocalServerError {
  public override readonly name = 'UserPoolDataError';

  public constructor(message: string, options?: ErrorOptions) {
    super('LOCAL_USER_POOL_DATA_INVALID', message, options);
  }
}

const PROTOCOL: JsonTargetProtocol = {
  targetPrefix: 'AWSCognitoIdentityProviderService.',
  contentType: 'application/x-amz-json-1.1',
  maxRequestBytes: 128 * 1024,
  internalErrorType: 'InternalErrorException',
  apiError: CognitoApiError,
};

const ADMIN_PASSWORD_FLOW = 'ADMIN_USER_PASSWORD_AUTH';
/** The scope Cognito puts in access tokens of sign-ins through its user pools API (not the hosted UI). */
const ADMIN_SCOPE = 'aws.cognito.signin.user.admin';
/** What Cognito answers for an unknown user and a wrong password alike when user-existence errors are hidden. */
const SIGN_IN_REFUSED = 'Incorrect username or password.';

const SCRYPT_KEY_BYTES = 32;
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

const attribute = z.object({ Name: z.string().min(1), Value: z.string().optional() });
const createUserShape = z.object({
  UserPoolId: z.string(),
  Username: z.string().min(1),
  UserAttributes: z.array(attribute).optional(),
  TemporaryPassword: z.string().optional(),
  MessageAction: z.enum(['SUPPRESS', 'RESEND']).optional(),
  DesiredDeliveryMediums: z.array(z.string()).optional(),
});
const setPasswordShape = z.object({
  UserPoolId: z.string(),
  Username: z.string().min(1),
  Password: z.string(),
  Permanent: z.boolean().optional(),
});
const initiateAuthShape = z.object({
  UserPoolId: z.string(),
  ClientId: z.string(),
  AuthFlow: z.string(),
  AuthParameters: z.record(z.string(), z.string()).optional(),
});

const storedUser = z.object({
  username: z.string(),
  email: z.string(),
  attributes: z.record(z.string(), z.string()),
  status: z.enum(['FORCE_CHANGE_PASSWORD', 'CONFIRMED']),
  createdAt: z.number(),
  modifiedAt: z.number(),
  password: z.object({ salt: z.string(), hash: z.string() }),
});
type StoredUser = z.infer<typeof storedUser>;
const usersFile = z.object({ users: z.array(storedUser) });

/** Starts the local user pool on 127.0.0.1, with the users of `dataFile` when it exists. */
export async function startLocalUserPool(options: LocalUserPoolOptions): Promise<LocalUserPool> {
  const service = new UserPoolService(
    options,
    new UserStore(options.dataFile, await loadUsers(options.dataFile)),
  );
  const server = await startLoopbackServer(
    jsonTargetHandler(PROTOCOL, (operation, body) => service.dispatch(operation, body)),
    options.port,
  );
  return {
    url: server.url,
    userPoolId: service.userPoolId,
    clientId: service.clientId,
    stop: () => server.close(),
  };
}

async function loadUsers(dataFile: string | undefined): Promise<StoredUser[]> {
  if (dataFile === undefined) return [];
  let text: string;
  try {
    text = await readFile(dataFile, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return [];
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const file = usersFile.safeParse(parsed);
  if (!file.success) throw new UserPoolDataError(`${dataFile} is not a local user pool's users file`);
  return file.data.users;
}

/** The pool's users by lower-cased email (the username customers sign in with), kept in `dataFile` if any. */
class UserStore {
  private readonly users = new Map<string, StoredUser>();
  private saving: Promise<void> = Promise.resolve();

  public constructor(
    private readonly dataFile: string | undefined,
    users: readonly StoredUser[],
  ) {
    for (const user of users) this.users.set(user.email.toLowerCase(), user);
  }

  public has(email: string): boolean {
    return this.users.has(email.toLowerCase());
  }

  /** A user by email or by the generated username, as Cognito accepts either. */
  public named(name: string): StoredUser | undefined {
    return (
      this.users.get(name.toLowerCase()) ?? [...this.users.values()].find((user) => user.username === name)
    );
  }

  public existing(name: string): StoredUser {
    const user = this.named(name);
    if (user === undefined) throw new CognitoApiError('UserNotFoundException', 'User does not exist.');
    return user;
  }

  public async put(user: StoredUser): Promise<void> {
    this.users.set(user.email.toLowerCase(), user);
    await this.save();
  }

  /** Writes the whole user list, one write at a time, through a rename so a crash never leaves half a file. */
  private async save(): Promise<void> {
    const { dataFile } = this;
    if (dataFile === undefined) return;
    const text = JSON.stringify({ users: [...this.users.values()] }, null, 2);
    this.saving = this.saving.then(async () => {
      await mkdir(dirname(dataFile), { recursive: true });
      await writeFile(`${dataFile}.tmp`, text, { mode: 0o600 });
      await rename(`${dataFile}.tmp`, dataFile);
    });
    await this.saving;
  }
}

/** The attributes of a new user, refused as Cognito refuses them: `sub` is the pool's, `email` the username. */
function newUserAttributes(input: z.infer<typeof createUserShape>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const { Name, Value } of input.UserAttributes ?? []) {
    if (Name === 'sub') {
      throw new CognitoApiError('InvalidParameterException', 'Cannot modify the non-mutable attribute sub');
    }
    attributes[Name] = Value ?? '';
  }
  if (attributes.email !== undefined && attributes.email.toLowerCase() !== input.Username.toLowerCase()) {
    throw new CognitoApiError('InvalidParameterException', 'The email attribute must be the username.');
  }
  return attributes;
}

/** A signed-in user's access and ID tokens, with Cognito's claims. */
async function authenticationResult(
  issuer: LocalIssuer,
  clientId: string,
  user: StoredUser,
  nowSeconds: number,
): Promise<JsonObject> {
  // Claims as Cognito's: the access token names its client in client_id and has no aud; the ID token has aud.
  const session = { sub: user.attributes.sub, auth_time: nowSeconds, origin_jti: randomUUID() };
  const [accessToken, idToken] = await Promise.all([
    issuer.issue({
      ...session,
      client_id: clientId,
      token_use: 'access',
      scope: ADMIN_SCOPE,
      username: user.username,
    }),
    issuer.issue({
      ...session,
      aud: clientId,
      token_use: 'id',
      'cognito:username': user.username,
      email: user.email,
      email_verified: user.attributes.email_verified === 'true',
    }),
  ]);
  return {
    ChallengeParameters: {},
    AuthenticationResult: {
      AccessToken: accessToken,
      IdToken: idToken,
      ExpiresIn: issuer.tokenLifetimeSeconds,
      TokenType: 'Bearer',
    },
  };
}

class UserPoolService {
  public readonly userPoolId: string;
  public readonly clientId: string;

  public constructor(
    private readonly options: LocalUserPoolOptions,
    private readonly users: UserStore,
  ) {
    this.userPoolId = `${options.region}_local`;
    this.clientId = options.issuer.audience;
  }

  public async dispatch(operation: string, body: unknown): Promise<JsonObject> {
    switch (operation) {
      case 'AdminCreateUser':
        return await this.createUser(parse(createUserShape, body));
      case 'AdminSetUserPassword':
        return await this.setPassword(parse(setPasswordShape, body));
      case 'AdminInitiateAuth':
        return await this.initiateAuth(parse(initiateAuthShape, body));
      default:
        throw new CognitoApiError(
          'UnknownOperationException',
          `The local user pool does not support ${operation}`,
        );
    }
  }

  private async createUser(input: z.infer<typeof createUserShape>): Promise<JsonObject> {
    this.assertPool(input.UserPoolId);
    if (input.MessageAction === 'RESEND') {
      throw new CognitoApiError(
        'InvalidParameterException',
        'The local user pool sends no messages to resend.',
      );
    }
    if (!z.email().safeParse(input.Username).success) {
      throw new CognitoApiError('InvalidParameterException', 'Username should be an email.');
    }
    const attributes = newUserAttributes(input);
    // Without a temporary password Cognito makes one up and mails it; here nobody could ever learn it.
    const temporary = input.TemporaryPassword ?? randomBytes(24).toString('base64url');
    if (input.TemporaryPassword !== undefined) assertPolicy(temporary);
    const password = await hashPassword(temporary);
    // Checked after the only await, so two concurrent creations of one email cannot both pass.
    if (this.users.has(input.Username)) {
      throw new CognitoApiError('UsernameExistsException', 'An account with the given email already exists.');
    }
    const sub = randomUUID();
    const at = this.nowSeconds();
    const user: StoredUser = {
      // In a pool whose username is the email, Cognito names the user with a generated id.
      username: sub,
      email: input.Username,
      attributes: { ...attributes, email: input.Username, sub },
      status: 'FORCE_CHANGE_PASSWORD',
      createdAt: at,
      modifiedAt: at,
      password,
    };
    await this.users.put(user);
    return { User: userType(user) };
  }

  private async setPassword(input: z.infer<typeof setPasswordShape>): Promise<JsonObject> {
    this.assertPool(input.UserPoolId);
    this.users.existing(input.Username);
    assertPolicy(input.Password);
    const password = await hashPassword(input.Password);
    // Read again after the await, so a change made meanwhile is not overwritten with an older copy.
    const updated: StoredUser = {
      ...this.users.existing(input.Username),
      password,
      status: input.Permanent === true ? 'CONFIRMED' : 'FORCE_CHANGE_PASSWORD',
      modifiedAt: this.nowSeconds(),
    };
    await this.users.put(updated);
    return {};
  }

  private async initiateAuth(input: z.infer<typeof initiateAuthShape>): Promise<JsonObject> {
    this.assertPool(input.UserPoolId);
    if (input.ClientId !== this.clientId) {
      throw new CognitoApiError(
        'ResourceNotFoundException',
        `User pool client ${input.ClientId} does not exist.`,
      );
    }
    if (input.AuthFlow !== ADMIN_PASSWORD_FLOW) {
      throw new CognitoApiError('InvalidParameterException', 'Auth flow not enabled for this client');
    }
    const username = input.AuthParameters?.USERNAME;
    const password = input.AuthParameters?.PASSWORD;
    if (username === undefined || password === undefined) {
      throw new CognitoApiError(
        'InvalidParameterException',
        'Missing required parameter USERNAME or PASSWORD',
      );
    }
    const user = this.users.named(username);
    if (user === undefined || !(await passwordMatches(password, user.password))) {
      throw new CognitoApiError('NotAuthorizedException', SIGN_IN_REFUSED);
    }
    if (user.status === 'FORCE_CHANGE_PASSWORD') {
      return {
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: randomBytes(32).toString('base64'),
        ChallengeParameters: {
          USER_ID_FOR_SRP: user.username,
          requiredAttributes: '[]',
          userAttributes: JSON.stringify({ email: user.email }),
        },
      };
    }
    return await authenticationResult(this.options.issuer, this.clientId, user, this.nowSeconds());
  }

  private assertPool(userPoolId: string): void {
    if (userPoolId !== this.userPoolId) {
      throw new CognitoApiError('ResourceNotFoundException', `User pool ${userPoolId} does not exist.`);
    }
  }

  private nowSeconds(): number {
    return Math.floor((this.options.now ?? (() => new Date()))().getTime() / 1000);
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  return validateInput(schema, body, (message) => new CognitoApiError('InvalidParameterException', message));
}

function assertPolicy(password: string): void {
  const violation = passwordPolicyViolation(password);
  if (violation !== undefined) {
    throw new CognitoApiError(
      'InvalidPasswordException',
      `Password does not conform to policy: ${violation}`,
    );
  }
}

async function hashPassword(password: string): Promise<StoredUser['password']> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT_KEY_BYTES);
  return { salt: salt.toString('base64'), hash: hash.toString('base64') };
}

async function passwordMatches(password: string, stored: StoredUser['password']): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(stored.salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

/** Cognito's `UserType`: dates in epoch seconds, as the JSON protocol carries timestamps. */
function userType(user: StoredUser): JsonObject {
  return {
    Username: user.username,
    Attributes: Object.entries(user.attributes).map(([Name, Value]) => ({ Name, Value })),
    UserCreateDate: user.createdAt,
    UserLastModifiedDate: user.modifiedAt,
    Enabled: true,
    UserStatus: user.status,
  };
}

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { CUSTOMER_PASSWORD_POLICY } from '../customer-password-policy';

/** An OpenID Connect issuer outside the stack (Auth0, Entra ID, Keycloak, another account's Cognito...). */
export interface ExternalIssuer {
  /** The issuer URL exactly as its tokens' `iss` claim spells it (API Gateway reads its discovery document). */
  readonly issuer: string;
  /** Accepted `aud` values (or `client_id`, for tokens without `aud`). */
  readonly audience: readonly string[];
}

export interface CustomerIdentityProps {
  /**
   * Trust this issuer instead of creating a user pool.
   * @default - a Cognito user pool and app client in this stack
   */
  readonly externalIssuer?: ExternalIssuer;
  /**
   * What happens to the user pool when it leaves the stack; with RETAIN it is also protected from deletion.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Who the shop's customers are: the issuer and audience the HTTP API's JWT authorizer trusts. By default a
 * Cognito user pool (administrator-created users only, strong passwords, optional TOTP MFA, email recovery) with
 * one public app client (SRP sign-in, no secret, as a browser or mobile app needs, plus the admin password flow
 * that only IAM-authorized callers can use); or any external OIDC issuer.
 * See docs/decisions.md for the choices behind these defaults.
 */
export class CustomerIdentity extends Construct {
  public readonly issuer: string;
  public readonly audience: readonly string[];
  /** Undefined when an external issuer is trusted. */
  public readonly userPool: cognito.UserPool | undefined;
  public readonly userPoolClient: cognito.UserPoolClient | undefined;

  public constructor(scope: Construct, id: string, props: CustomerIdentityProps = {}) {
    super(scope, id);
    if (props.externalIssuer !== undefined) {
      assertExternalIssuer(props.externalIssuer);
      this.issuer = props.externalIssuer.issuer;
      this.audience = [...props.externalIssuer.audience];
      this.userPool = undefined;
      this.userPoolClient = undefined;
      return;
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      passwordPolicy: { ...CUSTOMER_PASSWORD_POLICY, tempPasswordValidity: Duration.days(3) },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    this.userPoolClient = this.userPool.addClient('AppClient', {
      generateSecret: false,
      // Admin password sign-in is callable only through the IAM-signed AdminInitiateAuth (operators, `ops
      // customers token`); the public InitiateAuth a browser calls still offers SRP alone.
      authFlows: { userSrp: true, adminUserPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      enableTokenRevocation: true,
    });
    this.issuer = this.userPool.userPoolProviderUrl;
    this.audience = [this.userPoolClient.userPoolClientId];
  }
}

function assertExternalIssuer(external: ExternalIssuer): void {
  let url: URL;
  try {
    url = new URL(external.issuer);
  } catch {
    throw new Error(`the JWT issuer must be a URL, not ${external.issuer}`);
  }
  // API Gateway fetches the issuer's discovery document and keys over HTTPS only.
  if (url.protocol !== 'https:')
    throw new Error(`the JWT issuer must be an https URL, not ${external.issuer}`);
  if (external.audience.length === 0 || external.audience.some((value) => value.trim().length === 0)) {
    throw new Error('an external JWT issuer needs at least one audience, none of them blank');
  }
}

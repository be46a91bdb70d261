import type { CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type AppModel, appModel, type HttpTrigger } from '../../lib/model';
import { fixtureModel } from '../fixtures/cdk/fixture-model';
import { synthesize } from '../support/synth';

function httpTriggers(model: AppModel): HttpTrigger[] {
  return model.functions.flatMap((fn) =>
    fn.triggers.flatMap((trigger) => (trigger.type === 'http' ? [trigger] : [])),
  );
}

interface RouteProperties {
  readonly RouteKey: string;
  readonly AuthorizationType?: string;
  readonly AuthorizerId?: unknown;
}

function routesByKey(template: Template): Map<string, RouteProperties> {
  return new Map(
    Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => {
      const properties = route.Properties as RouteProperties;
      return [properties.RouteKey, properties];
    }),
  );
}

function onlyAuthorizerId(template: Template): string {
  const authorizers = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'));
  expect(authorizers).toHaveLength(1);
  return authorizers[0] ?? '';
}

const real = synthesize(appModel);

describe('customer authorization of the HTTP API', () => {
  it('declares every /orders route for customers and both webhooks for nobody', () => {
    const triggers = httpTriggers(appModel);

    const byPrefix = triggers.map((trigger) => [trigger.path.split('/')[1], trigger.authorization]);

    expect(byPrefix.filter(([prefix]) => prefix === 'orders').length).toBe(4);
    for (const [prefix, authorization] of byPrefix) {
      expect(authorization, String(prefix)).toBe(prefix === 'orders' ? 'customer' : 'none');
    }
  });

  it('attaches the JWT authorizer to every order route and to no webhook route', () => {
    const authorizerId = onlyAuthorizerId(real.template);

    const routes = routesByKey(real.template);

    for (const trigger of httpTriggers(appModel)) {
      const key = `${trigger.method} ${trigger.path}`;
      const route = routes.get(key);
      expect(route, key).toBeDefined();
      if (trigger.path.startsWith('/orders')) {
        expect(route, key).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
      } else {
        expect(route?.AuthorizerId, key).toBeUndefined();
        expect(route?.AuthorizationType ?? 'NONE', key).toBe('NONE');
      }
    }
  });

  it('trusts the Cognito user pool it creates by default: its issuer URL and its app client as audience', () => {
    const { stack, template } = real;
    const pool = stack.customerIdentity.userPool;
    const client = stack.customerIdentity.userPoolClient;

    const authorizer = template.findResources('AWS::ApiGatewayV2::Authorizer');

    expect(pool).toBeDefined();
    expect(client).toBeDefined();
    const poolId = stack.getLogicalId(pool?.node.defaultChild as CfnElement);
    const clientId = stack.getLogicalId(client?.node.defaultChild as CfnElement);
    expect(Object.values(authorizer)[0]?.Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: clientId }],
        // ProviderURL is https://cognito-idp.<region>.amazonaws.com/<pool id>, the pool's `iss`.
        Issuer: { 'Fn::GetAtt': [poolId, 'ProviderURL'] },
      },
    });
  });

  it('creates a user pool without self sign-up, with a strong password policy, and a public client without a secret', () => {
    real.template.resourceCountIs('AWS::Cognito::UserPool', 1);
    real.template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        },
      },
      DeletionProtection: 'ACTIVE',
    });
    real.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      PreventUserExistenceErrors: 'ENABLED',
      AllowedOAuthFlowsUserPoolClient: false,
    });
  });

  it('lets the public client sign in with SRP and operators with the IAM-signed admin password flow, never with a plain password', () => {
    const clients = Object.values(real.template.findResources('AWS::Cognito::UserPoolClient'));

    const flows = clients.map((client) => client.Properties.ExplicitAuthFlows as string[]);

    expect(flows).toHaveLength(1);
    expect([...(flows[0] ?? [])].sort()).toEqual([
      'ALLOW_ADMIN_USER_PASSWORD_AUTH',
      'ALLOW_REFRESH_TOKEN_AUTH',
      'ALLOW_USER_SRP_AUTH',
    ]);
    expect(flows[0]).not.toContain('ALLOW_USER_PASSWORD_AUTH');
  });

  it('trusts an external OIDC issuer instead, creating no user pool, when one is given', () => {
    const { template } = synthesize(appModel, {
      externalIssuer: { issuer: 'https://login.example.com/', audience: ['shop-api', 'shop-app'] },
    });

    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['shop-api', 'shop-app'] },
    });
    expect(routesByKey(template).get('POST /orders')?.AuthorizationType).toBe('JWT');
  });

  it('refuses an external issuer that is not https or has no audience', () => {
    expect(() =>
      synthesize(appModel, { externalIssuer: { issuer: 'http://login.example.com', audience: ['a'] } }),
    ).toThrow(/https/);
    expect(() =>
      synthesize(appModel, { externalIssuer: { issuer: 'https://login.example.com', audience: [] } }),
    ).toThrow(/audience/);
  });

  it('follows the declaration in any model: customer routes get the authorizer, others none', () => {
    const { template } = synthesize(fixtureModel);

    const routes = routesByKey(template);

    expect(routes.get('GET /parcels/{parcelId}')?.AuthorizationType).toBe('JWT');
    expect(routes.get('PUT /parcels/{parcelId}')?.AuthorizerId).toBeUndefined();
  });
});

describe('throttling of the HTTP API', () => {
  it('limits each declared route on the $default stage at its declared rate and burst', () => {
    const stages = Object.values(real.template.findResources('AWS::ApiGatewayV2::Stage'));

    expect(stages).toHaveLength(1);
    const settings = stages[0]?.Properties.RouteSettings as Record<string, unknown>;
    const expected = Object.fromEntries(
      httpTriggers(appModel).map((trigger) => [
        `${trigger.method} ${trigger.path}`,
        {
          ThrottlingRateLimit: trigger.throttle.rateLimit,
          ThrottlingBurstLimit: trigger.throttle.burstLimit,
        },
      ]),
    );
    expect(settings).toEqual(expected);
  });

  it('creates the stage after every route its RouteSettings name, as CloudFormation requires', () => {
    // Prepare
    const [stage, ...others] = Object.values(real.template.findResources('AWS::ApiGatewayV2::Stage'));
    const routeIdByKey = new Map(
      Object.entries(real.template.findResources('AWS::ApiGatewayV2::Route')).map(([id, route]) => [
        route.Properties.RouteKey as string,
        id,
      ]),
    );

    // Act
    const settingKeys = Object.keys((stage?.Properties.RouteSettings ?? {}) as Record<string, unknown>);
    const dependsOn = (stage?.DependsOn ?? []) as string[];

    // Assess
    expect(others).toHaveLength(0);
    expect(settingKeys).toHaveLength(httpTriggers(appModel).length);
    for (const key of settingKeys) {
      const routeId = routeIdByKey.get(key);
      expect(routeId, `no route for the stage's RouteSettings key ${key}`).toBeDefined();
      expect(dependsOn, `the stage does not wait for route ${key}`).toContain(routeId);
    }
  });

  it('declares a burst at least as large as the rate for every route', () => {
    for (const trigger of httpTriggers(appModel)) {
      expect(trigger.throttle.rateLimit, trigger.path).toBeGreaterThan(0);
      expect(trigger.throttle.burstLimit, trigger.path).toBeGreaterThanOrEqual(trigger.throttle.rateLimit);
    }
  });

  it('outputs the issuer and, by default, the user pool and its client', () => {
    const outputs = Object.keys(real.template.findOutputs('*'));

    expect(outputs).toEqual(
      expect.arrayContaining(['CustomerJwtIssuer', 'CustomerUserPoolId', 'CustomerUserPoolClientId']),
    );
  });
});

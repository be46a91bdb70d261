import { Lazy, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpTrigger } from '../model';
import { pascalCase } from '../naming';
import { type LogGroupProps, ownLogGroup } from './log-group';

export interface ModelHttpApiProps extends LogGroupProps {
  /**
   * Guards every route declared `authorization: 'customer'`; routes declared `'none'` get no authorizer.
   * @default - none, and adding a `customer` route fails
   */
  readonly customerAuthorizer?: apigwv2.IHttpRouteAuthorizer;
  /**
   * Request rate limits of the `$default` stage for routes without limits of their own (every declared route
   * has its own, from the model).
   * @default - the account's API Gateway limits
   */
  readonly throttle?: apigwv2.ThrottleSettings;
}

/**
 * The one HTTP API in front of every `http`-triggered function: payload format 2.0 Lambda proxy integrations,
 * one integration per function whatever its number of routes, the customer JWT authorizer on the routes that
 * declare it, each route's declared throttling as a stage route setting, and a `$default` stage with access
 * logs so each request can be traced to its Lambda invocation.
 */
export class ModelHttpApi extends Construct {
  public readonly api: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly accessLogGroup: logs.LogGroup;
  private readonly integrations = new Map<lambda.IFunction, HttpLambdaIntegration>();
  private readonly customerAuthorizer: apigwv2.IHttpRouteAuthorizer | undefined;
  private readonly routeSettings: Record<
    string,
    { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
  > = {};

  public constructor(scope: Construct, id: string, props: ModelHttpApiProps = {}) {
    super(scope, id);
    this.customerAuthorizer = props.customerAuthorizer;
    this.accessLogGroup = ownLogGroup(this, 'AccessLogs', props);
    // The stage is built here, not by HttpApi, because only an explicit stage takes access log settings.
    this.api = new apigwv2.HttpApi(this, 'Api', {
      createDefaultStage: false,
      // API names need not be unique; the stack's name tells the APIs of several stacks apart on the console.
      apiName: Stack.of(this).stackName,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup) },
    });
    // The L2 stage takes one throttle for all routes; per-route limits are the CloudFormation RouteSettings map.
    (this.stage.node.defaultChild as apigwv2.CfnStage).routeSettings = Lazy.any({
      produce: () => (Object.keys(this.routeSettings).length === 0 ? undefined : this.routeSettings),
    });
  }

  /** The invoke URL of the `$default` stage, ending in `/`. */
  public get url(): string {
    return this.stage.url;
  }

  /**
   * Routes `trigger.method trigger.path` to `fn`, the function declared as `functionName`, behind the customer
   * authorizer when the trigger says `authorization: 'customer'`, throttled as the trigger says.
   */
  public addRoute(functionName: string, trigger: HttpTrigger, fn: lambda.IFunction): void {
    if (trigger.authorization === 'customer' && this.customerAuthorizer === undefined) {
      throw new Error(
        `route ${trigger.method} ${trigger.path} is for customers, but the API has no authorizer`,
      );
    }
    const routes = this.api.addRoutes({
      path: trigger.path,
      methods: [apigwv2.HttpMethod[trigger.method]],
      integration: this.integrationFor(functionName, fn),
      authorizer:
        trigger.authorization === 'customer' ? this.customerAuthorizer : new apigwv2.HttpNoneAuthorizer(),
    });
    // CloudFormation checks each RouteSettings key against the API's routes when it creates the stage, and
    // nothing else orders the two: without this dependency the stage comes first and the stack rolls back.
    for (const route of routes) this.stage.node.addDependency(route);
    this.routeSettings[`${trigger.method} ${trigger.path}`] = {
      ThrottlingRateLimit: trigger.throttle.rateLimit,
      ThrottlingBurstLimit: trigger.throttle.burstLimit,
    };
  }

  private integrationFor(functionName: string, fn: lambda.IFunction): HttpLambdaIntegration {
    let integration = this.integrations.get(fn);
    if (integration === undefined) {
      integration = new HttpLambdaIntegration(`${pascalCase(functionName)}Integration`, fn, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      });
      this.integrations.set(fn, integration);
    }
    return integration;
  }
}

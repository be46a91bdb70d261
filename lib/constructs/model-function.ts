import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_LOGGING, type FunctionDeclaration, type FunctionLogging } from '../model';
import { type LogGroupProps, ownLogGroup } from './log-group';

/**
 * esbuild's ESM output keeps CommonJS dependencies' `require` calls (of Node built-ins, say), which fail in an
 * ES module unless a `require` exists; this defines one.
 */
const REQUIRE_SHIM =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * How every function is bundled. `lib/function-bundles.ts` hands the same options to esbuild to measure each
 * bundle by package (`npm run bundles`), so what is measured is what is deployed.
 */
export const FUNCTION_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: REQUIRE_SHIM,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // The AWS SDK is bundled like any other dependency, at the version package-lock.json pins and the tests
  // run, rather than taken from the Lambda runtime, whose copy is older and changes under us (decision 36).
  externalModules: [],
};

export interface ModelFunctionProps extends LogGroupProps {
  /**
   * The function as `lib/model.ts` declares it: entry, memory, timeout, reserved concurrency. Triggers and grants
   * are wired by the caller.
   */
  readonly declaration: FunctionDeclaration;
  /**
   * The directory the declaration's `entry` is relative to; it must hold `package-lock.json`.
   */
  readonly rootDir: string;
  /** Environment variables, already resolved to physical names by the caller. */
  readonly environment: Readonly<Record<string, string>>;
  /** The value of `POWERTOOLS_SERVICE_NAME`, which Powertools puts on every log line and metric. */
  readonly serviceName: string;
  /**
   * Log format and the levels Lambda lets through to the log group.
   * @default FUNCTION_LOGGING (lib/model.ts), which the cost report prices
   */
  readonly logging?: FunctionLogging;
}

/** The Lambda logging properties of a logging declaration. */
export function loggingProps(
  logging: FunctionLogging,
): Pick<lambda.FunctionProps, 'loggingFormat' | 'applicationLogLevelV2' | 'systemLogLevelV2'> {
  if (logging.format === 'TEXT') return { loggingFormat: lambda.LoggingFormat.TEXT };
  return {
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel[logging.applicationLevel],
    systemLogLevelV2: lambda.SystemLogLevel[logging.systemLevel],
  };
}

/**
 * A Lambda function bundled from its TypeScript entry with the local esbuild (no Docker): Node.js 24 on arm64
 * (cheaper per millisecond than x86), ES module output, minified, with source maps that Node applies to stack
 * traces (`NODE_OPTIONS=--enable-source-maps`), the AWS SDK bundled too, active X-Ray tracing, and its own
 * log group with a bounded retention instead of Lambda's never-expiring default, which only its own role may write,
 * in JSON with advanced logging controls (`FUNCTION_LOGGING`).
 */
export class ModelFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  /** The execution role: no managed policy, only the grants the stack adds for the declared access. */
  public readonly role: iam.Role;

  public constructor(scope: Construct, id: string, props: ModelFunctionProps) {
    super(scope, id);
    const { declaration, rootDir } = props;

    this.logGroup = ownLogGroup(this, 'LogGroup', props);
    // A role of our own instead of the default one with the AWSLambdaBasicExecutionRole managed policy, which may
    // create log groups and write to every log group in the account: this one writes to its own log group only.
    this.role = new iam.Role(this, 'ServiceRole', {
      description: `Execution role of ${declaration.name}`,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    this.logGroup.grantWrite(this.role);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: `${declaration.name} (${declaration.entry})`,
      entry: path.resolve(rootDir, declaration.entry),
      handler: 'handler',
      projectRoot: rootDir,
      depsLockFilePath: path.join(rootDir, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: declaration.memoryMb,
      timeout: Duration.seconds(declaration.timeoutSeconds),
      reservedConcurrentExecutions: declaration.reservedConcurrency,
      logGroup: this.logGroup,
      ...loggingProps(props.logging ?? FUNCTION_LOGGING),
      role: this.role,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        ...props.environment,
      },
      bundling: FUNCTION_BUNDLING,
    });
  }
}

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StateMachineDeclaration } from '../model';
import { functionArnKeysIn, functionArnSubstitutionKey } from './asl-substitutions';

export interface ModelStateMachineProps {
  /** The state machine as `lib/model.ts` declares it: its name and ASL file. */
  readonly declaration: StateMachineDeclaration;
  /** The directory the declaration's `definition` path is relative to. */
  readonly rootDir: string;
  /** Every declared function by its model name; the definition may reference any of them. */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /**
   * STANDARD runs each state exactly once and can be redriven after a failure; EXPRESS is at-least-once and
   * far cheaper per execution. Idempotent tasks make either safe.
   * @default sfn.StateMachineType.STANDARD
   */
  readonly stateMachineType?: sfn.StateMachineType;
  /**
   * How long execution logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Step Functions state machine whose definition is the declared Amazon States Language file, read at synth
 * time so the cloud runs the very file the local runtime runs.
 *
 * Function ARNs in the file are written as `${FunctionArn_<name with '-' as '_'>}`, e.g.
 * `"Resource": "${FunctionArn_reserve_stock}"` or `"FunctionName": "${FunctionArn_reserve_stock}"` for the
 * function declared as `reserve-stock` (see `asl-substitutions.ts`). Each placeholder becomes a
 * `DefinitionSubstitutions` entry, and the state machine's role may invoke exactly the functions the file
 * references. A placeholder naming an undeclared function fails synth. Execution errors are logged without
 * execution data (which holds order details), and X-Ray tracing is on.
 */
export class ModelStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** Model names of the functions the definition invokes. */
  public readonly invokedFunctionNames: readonly string[];

  public constructor(scope: Construct, id: string, props: ModelStateMachineProps) {
    super(scope, id);
    const { declaration } = props;
    const file = path.resolve(props.rootDir, declaration.definition);
    const definition = readFileSync(file, 'utf8');
    try {
      JSON.parse(definition);
    } catch (error) {
      throw new Error(`state machine '${declaration.name}': ${file} is not valid JSON`, { cause: error });
    }

    const byKey = new Map(
      [...props.functions].map(([name, fn]) => [functionArnSubstitutionKey(name), { name, fn }]),
    );
    const referenced = functionArnKeysIn(definition).map((key) => {
      const target = byKey.get(key);
      if (target === undefined) {
        throw new Error(
          `state machine '${declaration.name}' references \${${key}}, but no declared function has that key ` +
            `(declared: ${[...byKey.keys()].join(', ') || 'none'})`,
        );
      }
      return { key, ...target };
    });
    this.invokedFunctionNames = referenced.map(({ name }) => name);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: Object.fromEntries(referenced.map(({ key, fn }) => [key, fn.functionArn])),
      stateMachineType: props.stateMachineType ?? sfn.StateMachineType.STANDARD,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });
    for (const { fn } of referenced) fn.grantInvoke(this.stateMachine);
  }
}

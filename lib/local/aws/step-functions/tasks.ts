import { FunctionInvocationError, type FunctionInvoker } from '../../invoker';
import { isJsonObject, type JsonValue } from './engine-types';
import { TaskFunctionFailedError, UnmappedTaskResourceError } from './errors';
import type { ExecutionRun } from './executions';
import type { HistoryWriter } from './history';

const LAMBDA_INVOKE_RESOURCE = /^arn:aws[a-z-]*:states:::lambda:invoke(\..+)?$/;

/**
 * Runs Task states in place of Lambda: a Task whose resource is a function ARN, and the `lambda:invoke`
 * integration, each calling the mapped local function and recording the history events AWS records for it.
 */
export class TaskRunner {
  public constructor(
    private readonly invoker: FunctionInvoker,
    private readonly region: string,
    private readonly history: HistoryWriter,
  ) {}

  public async runTask(run: ExecutionRun, stateName: string, resource: string, input: JsonValue) {
    // The engine calls this synchronously right after queueing its StateEntered event; yielding one macrotask lets
    // the history recorder take that event first, so the task's own events follow it as in AWS.
    await new Promise((resolve) => setImmediate(resolve));
    const integration = LAMBDA_INVOKE_RESOURCE.exec(resource);
    if (integration !== null) {
      if (integration[1] !== undefined) {
        throw new UnmappedTaskResourceError(
          `Task state '${stateName}': the ${integration[1].slice(1)} pattern of ${resource} is not supported locally`,
        );
      }
      return await this.invokeIntegration(run, stateName, input);
    }
    return await this.invokeResource(run, stateName, resource, input);
  }

  /** A Task whose `Resource` is the function itself. */
  private async invokeResource(run: ExecutionRun, stateName: string, resource: string, input: JsonValue) {
    const machine = run.record.stateMachine;
    const functionName = machine.functions.resolve(resource);
    if (functionName === undefined) {
      throw new UnmappedTaskResourceError(
        `Task state '${stateName}' has Resource ${resource}, which is not mapped to a local function ` +
          `(add it to taskFunctions of state machine ${machine.name})`,
      );
    }
    this.history.appendRun(run, 'LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
      resource,
      input: JSON.stringify(input),
      inputDetails: { truncated: false },
    });
    this.history.appendRun(run, 'LambdaFunctionStarted');
    return await this.invokeRecorded(run, 'LambdaFunction', {}, () => this.invoke(functionName, input));
  }

  /** `arn:aws:states:::lambda:invoke`: Parameters name the function and its Payload; the result wraps the payload. */
  private async invokeIntegration(
    run: ExecutionRun,
    stateName: string,
    input: JsonValue,
  ): Promise<JsonValue> {
    const machine = run.record.stateMachine;
    const parameters = isJsonObject(input) ? input : {};
    const requested = parameters.FunctionName;
    const functionName = typeof requested === 'string' ? machine.functions.resolve(requested) : undefined;
    if (functionName === undefined) {
      throw new UnmappedTaskResourceError(
        `Task state '${stateName}' invokes FunctionName ${JSON.stringify(requested)}, which is not mapped to a ` +
          `local function (add it to taskFunctions of state machine ${machine.name})`,
      );
    }
    const details = { resourceType: 'lambda', resource: 'invoke' };
    this.history.appendRun(run, 'TaskScheduled', 'taskScheduledEventDetails', {
      ...details,
      region: this.region,
      parameters: JSON.stringify(parameters),
    });
    this.history.appendRun(run, 'TaskStarted', 'taskStartedEventDetails', details);
    return await this.invokeRecorded(run, 'Task', details, async () => {
      const payload = await this.invoke(functionName, parameters.Payload ?? {});
      return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
    });
  }

  /** Runs `call`, recording its outcome as the `<kind>Succeeded` or `<kind>Failed` event, `details` included. */
  private async invokeRecorded(
    run: ExecutionRun,
    kind: 'LambdaFunction' | 'Task',
    details: Record<string, unknown>,
    call: () => Promise<JsonValue>,
  ): Promise<JsonValue> {
    const detailsPrefix = `${kind.charAt(0).toLowerCase()}${kind.slice(1)}`;
    try {
      const output = await call();
      this.history.appendRun(run, `${kind}Succeeded`, `${detailsPrefix}SucceededEventDetails`, {
        ...details,
        output: JSON.stringify(output),
        outputDetails: { truncated: false },
      });
      return output;
    } catch (error) {
      if (error instanceof TaskFunctionFailedError) {
        this.history.appendRun(run, `${kind}Failed`, `${detailsPrefix}FailedEventDetails`, {
          ...details,
          error: error.name,
          cause: error.message,
        });
      }
      throw error;
    }
  }

  private async invoke(functionName: string, event: JsonValue): Promise<JsonValue> {
    let result: unknown;
    try {
      result = await this.invoker.invoke(functionName, event);
    } catch (error) {
      if (error instanceof FunctionInvocationError) {
        throw new TaskFunctionFailedError(error.errorType, error.errorMessage);
      }
      // Lambda's name for a function that died without reporting an error (crash, timeout of the environment).
      throw new TaskFunctionFailedError(
        'Lambda.Unknown',
        error instanceof Error ? error.message : String(error),
      );
    }
    // A round trip through JSON gives the state machine what Lambda would return: no undefined, no Date objects.
    return JSON.parse(JSON.stringify(result ?? null)) as JsonValue;
  }
}

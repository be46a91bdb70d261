import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FunctionDeclaration } from '../../model';
import { LocalServerError } from '../http';
import { FunctionInvocationError, type FunctionInvoker } from '../invoker';
import type { InvocationRequest, InvocationResponse, WorkerSettings } from './function-protocol';
import { type FaultOptions, hashSeed, type Usage, UsageMeter } from './sdk-instrumentation';

export interface HostedFunction {
  readonly declaration: FunctionDeclaration;
  /** The function's whole environment, as Lambda would set it: nothing of the host's leaks in. */
  readonly environment: Readonly<Record<string, string>>;
}

export interface FunctionHostOptions {
  readonly functions: readonly HostedFunction[];
  /** Repository root; declaration entries are relative to it. */
  readonly rootDir: string;
  readonly region: string;
  readonly accountId: string;
  /** Execution environments per function, like Lambda's reserved concurrency. Default 4. */
  readonly maxConcurrency?: number;
  /** Faults injected into the functions' AWS SDK calls (chaos runs); none by default. */
  readonly faults?: FaultOptions;
  /** Where the AWS requests the functions make are counted. Default: a meter of the host's own. */
  readonly meter?: UsageMeter;
  /**
   * What functions write to stdout and stderr is always metered (`CloudWatchLogs:Ingested(bytes)@<function>`);
   * with this it is also dropped instead of reaching the host's terminal. Default false.
   */
  readonly discardOutput?: boolean;
}

export class UnknownFunctionError extends LocalServerError {
  public override readonly name = 'UnknownFunctionError';

  public constructor(functionName: string) {
    super('UNKNOWN_FUNCTION', `no function named ${functionName} is declared`);
  }
}

const WORKER_ENTRY = new URL('./function-worker.ts', import.meta.url);
// Workers load TypeScript through tsx's loader, resolved from this package so any working directory works. Only
// its ES module hooks: handlers are ES modules, and tsx's CommonJS hooks would re-read and lex every CommonJS file
// the AWS SDK requires, a fifth of each cold start's CPU.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;

interface Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

/**
 * Runs declared functions locally, each invocation in a worker thread that plays one Lambda execution
 * environment: the handler module is imported once per environment (cold start), an environment runs one
 * invocation at a time, idle environments are reused, and an invocation past the function's timeout has its
 * environment discarded, as Lambda does.
 */
export class FunctionHost implements FunctionInvoker {
  private readonly pools = new Map<string, FunctionPool>();
  /** The AWS requests (and DynamoDB capacity) and the log output of every invocation so far. */
  public readonly meter: UsageMeter;

  public constructor(options: FunctionHostOptions) {
    this.meter = options.meter ?? new UsageMeter();
    for (const hosted of options.functions) {
      this.pools.set(hosted.declaration.name, new FunctionPool(hosted, options, this.meter));
    }
  }

  public async invoke(functionName: string, event: unknown): Promise<unknown> {
    const pool = this.pools.get(functionName);
    if (pool === undefined) {
      throw new UnknownFunctionError(functionName);
    }
    this.meter.count(`Lambda:Invoke(${functionName})`);
    return await pool.invoke(event);
  }

  /** Ends every execution environment; invocations still running are rejected. */
  public async stop(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.stop()));
  }
}

/** Usage keys name the function that made the requests (`DynamoDB:Query@get-order`), so costs can be attributed. */
function tagged(usage: Usage, functionName: string): Usage {
  return Object.fromEntries(Object.entries(usage).map(([key, value]) => [`${key}@${functionName}`, value]));
}

/**
 * Runs one invocation in an environment: the handler's answer, or a {@link FunctionInvocationError} for its
 * error, a timeout (`Sandbox.Timedout`) or the environment's death (`Runtime.ExitError`).
 */
function invokeIn(
  environment: Environment,
  request: InvocationRequest,
  declaration: HostedFunction['declaration'],
  meter: (usage: Usage) => void,
): Promise<unknown> {
  const { name, timeoutSeconds } = declaration;
  const { worker } = environment;
  return new Promise<unknown>((resolvePromise, rejectPromise) => {
    const timer = setTimeout(() => {
      rejectPromise(
        new FunctionInvocationError(
          name,
          'Sandbox.Timedout',
          `Task timed out after ${timeoutSeconds} seconds`,
        ),
      );
    }, timeoutSeconds * 1000);
    const onMessage = (response: InvocationResponse) => {
      if (response.id !== request.id) return;
      cleanUp();
      meter(response.usage);
      if (response.ok) {
        resolvePromise(response.value);
      } else {
        rejectPromise(new FunctionInvocationError(name, response.errorType, response.errorMessage));
      }
    };
    const onFailure = (error: Error) => {
      cleanUp();
      rejectPromise(new FunctionInvocationError(name, 'Runtime.ExitError', error.message, { cause: error }));
    };
    const onExit = (code: number) => onFailure(new Error(`execution environment exited with code ${code}`));
    const cleanUp = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onFailure);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('error', onFailure);
    worker.once('exit', onExit);
    worker.postMessage(request);
  });
}

/** A new worker for `hosted`, ready once its handler module is imported (the cold start). */
function startEnvironment(workerData: WorkerSettings, hosted: HostedFunction): Environment {
  const worker = new Worker(WORKER_ENTRY, {
    workerData,
    env: { ...hosted.environment },
    execArgv: ['--import', TSX_LOADER],
    name: `lambda:${hosted.declaration.name}`,
  });
  const ready = new Promise<void>((resolvePromise, rejectPromise) => {
    const onReady = (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'ready' in message) {
        worker.off('message', onReady);
        worker.off('error', onError);
        resolvePromise();
      }
    };
    const onError = (error: Error) => {
      worker.off('message', onReady);
      rejectPromise(
        new FunctionInvocationError(hosted.declaration.name, 'Runtime.ImportModuleError', error.message, {
          cause: error,
        }),
      );
    };
    worker.on('message', onReady);
    worker.once('error', onError);
  });
  ready.catch(() => undefined);
  return { worker, ready };
}

/** A timeout or a crash, after which the environment is discarded; a handler's own error leaves it reusable. */
function isEnvironmentFailure(errorType: string): boolean {
  return errorType === 'Sandbox.Timedout' || errorType.startsWith('Runtime.');
}

class FunctionPool {
  private readonly idle: Environment[] = [];
  private readonly all = new Set<Environment>();
  private readonly waiting: ((environment: Environment) => void)[] = [];
  private readonly maxConcurrency: number;
  private readonly settings: WorkerSettings;
  private readonly faults: FaultOptions | undefined;
  private nextInvocationId = 1;
  private spawned = 0;
  private stopped = false;

  public constructor(
    private readonly hosted: HostedFunction,
    options: FunctionHostOptions,
    private readonly meter: UsageMeter,
  ) {
    this.faults = options.faults;
    this.maxConcurrency = options.maxConcurrency ?? 4;
    const { name, entry, memoryMb } = hosted.declaration;
    this.settings = {
      functionName: name,
      functionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${name}`,
      entryUrl: pathToFileURL(resolve(options.rootDir, entry)).href,
      memoryMb,
      ...(options.discardOutput === true ? { discardOutput: true } : {}),
    };
  }

  public async invoke(event: unknown): Promise<unknown> {
    const environment = await this.acquire();
    const { timeoutSeconds, name } = this.hosted.declaration;
    try {
      await environment.ready;
      // As in Lambda, the function's timeout starts after the init phase: a cold start does not eat into it.
      const request: InvocationRequest = {
        id: this.nextInvocationId++,
        requestId: randomUUID(),
        deadlineEpochMs: Date.now() + timeoutSeconds * 1000,
        event,
      };
      const outcome = await invokeIn(environment, request, this.hosted.declaration, (usage) =>
        this.meter.add(tagged(usage, name)),
      );
      this.release(environment);
      return outcome;
    } catch (error) {
      // An environment that timed out or crashed may hold half-done state: Lambda discards it, and so do we.
      if (!(error instanceof FunctionInvocationError) || isEnvironmentFailure(error.errorType)) {
        await this.discard(environment);
      } else {
        this.release(environment);
      }
      throw error;
    }
  }

  public async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.all].map((environment) => this.discard(environment)));
  }

  private async acquire(): Promise<Environment> {
    if (this.stopped) {
      throw new FunctionInvocationError(
        this.hosted.declaration.name,
        'Runtime.Stopped',
        'the local runtime is stopping',
      );
    }
    const idle = this.idle.pop();
    if (idle !== undefined) return idle;
    if (this.all.size < this.maxConcurrency) return this.spawn();
    return await new Promise((resolvePromise) => this.waiting.push(resolvePromise));
  }

  private release(environment: Environment): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      next(environment);
    } else {
      this.idle.push(environment);
    }
  }

  private async discard(environment: Environment): Promise<void> {
    this.all.delete(environment);
    const index = this.idle.indexOf(environment);
    if (index >= 0) this.idle.splice(index, 1);
    await environment.worker.terminate();
    const next = this.waiting.shift();
    if (next !== undefined && !this.stopped) {
      next(this.spawn());
    }
  }

  private spawn(): Environment {
    this.spawned += 1;
    // Each environment draws its own fault sequence, reproducible from the seed, the function and its number.
    const workerData: WorkerSettings =
      this.faults === undefined
        ? this.settings
        : {
            ...this.settings,
            faults: {
              ...this.faults,
              seed: hashSeed(this.faults.seed, this.hosted.declaration.name, this.spawned),
            },
          };
    const { worker, ready } = startEnvironment(workerData, this.hosted);
    const environment: Environment = { worker, ready };
    // A worker that dies while idle (an unhandled rejection in a timer, say) must not take the host down with it.
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      this.all.delete(environment);
      const index = this.idle.indexOf(environment);
      if (index >= 0) this.idle.splice(index, 1);
    });
    this.all.add(environment);
    return environment;
  }
}

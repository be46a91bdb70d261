import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appModel } from '../../lib/model';
import { OrderBackboneStack } from '../../lib/stack';

/** One real function of the model, bundled by esbuild as `cdk deploy` bundles every function. */
const BUNDLED_FUNCTION = 'get-order';

describe('a function bundle', () => {
  let app: App;
  let code: string;
  beforeAll(() => {
    // Prepare
    const model = {
      ...appModel,
      functions: appModel.functions.filter((fn) => fn.name === BUNDLED_FUNCTION),
      stateMachines: [],
      timers: [],
      outsideParties: [],
    };
    app = new App();
    new OrderBackboneStack(app, 'BundleTest', { model });
    const assembly = app.synth();
    const assets = readdirSync(assembly.directory).filter((entry) => entry.startsWith('asset.'));
    const bundles = assets
      .map((asset) => path.join(assembly.directory, asset, 'index.mjs'))
      .filter((file) => readdirSync(path.dirname(file)).includes('index.mjs'));
    expect(bundles).toHaveLength(1);
    code = readFileSync(bundles[0] as string, 'utf8');
  });
  afterAll(() => {
    rmSync(app.outdir, { recursive: true, force: true });
  });

  it('carries the AWS SDK it was tested with instead of importing the Lambda runtime copy', () => {
    // Act
    const sdkImports = code.match(/(?:from|import\()\s*["']@(?:aws-sdk|smithy)\/[^"']+["']/g) ?? [];

    // Assess
    // The DynamoDB client's protocol target prefix: there only when the client itself is inside.
    expect(code.includes('DynamoDB_20120810'), 'the DynamoDB client is not in the bundle').toBe(true);
    expect(sdkImports).toEqual([]);
  });
});

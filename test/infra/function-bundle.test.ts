import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionBundle, measureFunctionBundle } from '../../lib/function-bundles';
import { appModel } from '../../lib/model';
import { OrderBackboneStack } from '../../lib/stack';

/** One real function of the model, bundled by esbuild as `cdk deploy` bundles every function. */
const BUNDLED_FUNCTION = 'get-order';

/** The issue 21 target for every bundle, apart from the AWS SDK (decision 36) and Stripe's SDK (decision 52). */
const OWN_CODE_BUDGET_BYTES = 300 * 1024;
/** zod's mini build with the schemas of the largest function; the full build was 444 KB (decision 52). */
const ZOD_BUDGET_BYTES = 40 * 1024;

function bytesOf(bundle: FunctionBundle, packageName: string): number {
  return bundle.packages.find((entry) => entry.name === packageName)?.bytes ?? 0;
}

describe('a function bundle', () => {
  let app: App;
  let code: string;
  let measured: FunctionBundle;
  beforeAll(async () => {
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
    const declaration = appModel.functions.find((fn) => fn.name === BUNDLED_FUNCTION);
    if (declaration === undefined) throw new Error(`${BUNDLED_FUNCTION} is not declared`);
    measured = await measureFunctionBundle(declaration, process.cwd());
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

  it('is the bundle that `npm run bundles` measures, byte for byte', () => {
    // Assess
    expect(Buffer.byteLength(code)).toBe(measured.bytes);
  });
});

describe('every function bundle', () => {
  const bundles = new Map<string, FunctionBundle>();
  beforeAll(async () => {
    // Prepare: bundled as the stack bundles them, but taking the AWS SDK from outside, to weigh the rest.
    for (const declaration of appModel.functions) {
      bundles.set(declaration.name, await measureFunctionBundle(declaration, process.cwd(), ['@aws-sdk/*']));
    }
  });

  it.each(appModel.functions.map((fn) => fn.name))(
    "%s: at most 300 KB apart from the AWS SDK and Stripe, with zod's mini build",
    (name) => {
      // Act
      const bundle = bundles.get(name) as FunctionBundle;
      const ownBytes = bundle.bytes - bytesOf(bundle, 'stripe');

      // Assess
      expect(bytesOf(bundle, 'zod'), 'zod').toBeGreaterThan(0);
      expect(bytesOf(bundle, 'zod'), 'zod').toBeLessThanOrEqual(ZOD_BUDGET_BYTES);
      expect(ownBytes, 'bytes apart from the AWS SDK and Stripe').toBeLessThanOrEqual(OWN_CODE_BUDGET_BYTES);
    },
  );

  it('carries the Stripe SDK only where the payments composition is', () => {
    // Act
    const withStripe = [...bundles.values()].filter((bundle) => bytesOf(bundle, 'stripe') > 0);
    const withPayments = [...bundles.values()].filter((bundle) =>
      bundle.inputs.includes('functions/composition/payments.ts'),
    );

    // Assess
    expect(withPayments.length).toBeGreaterThan(0);
    expect(withStripe.map((bundle) => bundle.name)).toEqual(withPayments.map((bundle) => bundle.name));
  });
});

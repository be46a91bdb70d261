/**
 * `npm run bundles -- [--top N] [--json] [--external <module>]...`: bundles every function of `lib/model.ts` with
 * esbuild exactly as the stack does (`FUNCTION_BUNDLING`) and prints each `index.mjs`'s size and its N largest
 * packages (5 by default). `--external '@aws-sdk/*'` shows what the bundles would be with the Lambda runtime's SDK.
 */
import { parseArgs } from 'node:util';
import { measureFunctionBundle } from '../lib/function-bundles';
import { appModel } from '../lib/model';

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      top: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      external: { type: 'string', multiple: true },
    },
  });
  const top = Number(values.top);
  const bundles = [];
  for (const declaration of appModel.functions) {
    bundles.push(await measureFunctionBundle(declaration, process.cwd(), values.external));
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(bundles, null, 2)}\n`);
    return;
  }
  for (const bundle of bundles) {
    const parts = bundle.packages.slice(0, top).map((entry) => `${entry.name} ${kb(entry.bytes)}`);
    process.stdout.write(`${bundle.name.padEnd(24)} ${kb(bundle.bytes).padStart(8)}  ${parts.join(', ')}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

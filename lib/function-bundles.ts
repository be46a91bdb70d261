import * as path from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { FUNCTION_BUNDLING } from './constructs/model-function';
import type { FunctionDeclaration } from './model';

/** What one function's `index.mjs` is made of, in bytes of minified output. */
export interface FunctionBundle {
  readonly name: string;
  readonly bytes: number;
  /** Bytes per npm package (`project` for our own code), largest first. */
  readonly packages: readonly { readonly name: string; readonly bytes: number }[];
  /** Every module the bundle carries, as paths from the repository root. */
  readonly inputs: readonly string[];
  /** Modules the bundle imports at run time instead of carrying (the ones `externalModules` names). */
  readonly externalImports: readonly string[];
}

/** The stack's bundling options (`FUNCTION_BUNDLING`) as the esbuild options CDK's NodejsFunction derives from them. */
export function esbuildOptions(entry: string, rootDir: string): BuildOptions {
  const bundling = FUNCTION_BUNDLING;
  return {
    entryPoints: [path.resolve(rootDir, entry)],
    absWorkingDir: rootDir,
    bundle: true,
    platform: 'node',
    target: bundling.target,
    format: bundling.format === 'esm' ? 'esm' : 'cjs',
    outfile: path.join(rootDir, 'cdk.out', 'bundle-measure', 'index.mjs'),
    minify: bundling.minify,
    sourcemap: bundling.sourceMap,
    sourcesContent: bundling.sourcesContent,
    // CDK's default when `externalModules` is not given: the Lambda runtime's own AWS SDK.
    external: [...(bundling.externalModules ?? ['@aws-sdk/*']), ...(bundling.nodeModules ?? [])],
    mainFields: bundling.mainFields,
    banner: bundling.banner === undefined ? undefined : { js: bundling.banner },
    write: false,
    metafile: true,
    logLevel: 'silent',
  };
}

/** The npm package an input path belongs to (the innermost `node_modules/` wins), or `project`. */
export function packageOf(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return 'project';
  const first = parts[at + 1] ?? 'project';
  return first.startsWith('@') ? `${first}/${parts[at + 2]}` : first;
}

/**
 * Bundles one declared function exactly as the stack does and says what its code is made of. `external` replaces
 * the stack's external modules, to see what a bundle would be without them.
 */
export async function measureFunctionBundle(
  declaration: FunctionDeclaration,
  rootDir: string,
  external?: readonly string[],
): Promise<FunctionBundle> {
  const options = esbuildOptions(declaration.entry, rootDir);
  const result = await build(external === undefined ? options : { ...options, external: [...external] });
  const output = Object.entries(result.metafile?.outputs ?? {}).find(([file]) => file.endsWith('.mjs'));
  if (output === undefined) throw new Error(`esbuild wrote no index.mjs for ${declaration.name}`);
  const [, meta] = output;
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(meta.inputs)) {
    const name = packageOf(input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return {
    name: declaration.name,
    bytes: meta.bytes,
    packages: [...byPackage].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
    inputs: Object.keys(meta.inputs),
    externalImports: meta.imports.filter((entry) => entry.external).map((entry) => entry.path),
  };
}

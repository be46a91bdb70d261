/**
 * `npm run check:deploy`: what CloudFormation and the services would refuse, found before a deploy
 * (lib/deploy-check/): cfn-lint for every region in DEPLOY_REGIONS, IAM semantics of every policy, Step Functions
 * integrations and invoke permissions, and the services' own rules.
 *
 *   npm run check:deploy                           synthesizes the app (`cdk synth`, with cdk-nag) twice, with a
 *                                                  STANDARD and an EXPRESS saga, and checks both templates
 *   npm run check:deploy -- -c stackName=shop-a    passes context to both synths
 *   npm run check:deploy -- --template <file> ...  checks templates already synthesized instead
 *
 * Prints each finding as `<rule-id> <logicalId>: <message>`. Exits 0 without findings, 1 with, 2 when the check
 * cannot run (cfn-lint missing, synth failing, a bad option).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ACCEPTED_CFN_LINT_RULES, runCfnLint } from '../lib/deploy-check/cfn-lint';
import { checkTemplate } from '../lib/deploy-check/check';
import { DeployCheckError } from '../lib/deploy-check/errors';
import { DEPLOY_REGIONS } from '../lib/deploy-check/regions';
import { formatFinding, sortFindings } from '../lib/deploy-check/report';
import { runProcess } from '../lib/run-process';

const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKFLOW_TYPES = ['STANDARD', 'EXPRESS'] as const;
const USAGE = 'usage: npm run check:deploy -- [-c key=value ...] [--template <file> ...]';

interface Options {
  readonly context: readonly string[];
  readonly templates: readonly string[];
}

function parseArguments(args: readonly string[]): Options {
  const context: string[] = [];
  const templates: string[] = [];
  for (let index = 0; index < args.length; index += 2) {
    const [option, value] = [args[index], args[index + 1]];
    if (value === undefined)
      throw new DeployCheckError('DEPLOY_CHECK_USAGE', `${option} needs a value. ${USAGE}`);
    if (option === '-c' || option === '--context') {
      if (!value.includes('='))
        throw new DeployCheckError('DEPLOY_CHECK_USAGE', `context ${value} is not key=value. ${USAGE}`);
      context.push(value);
    } else if (option === '--template') templates.push(value);
    else throw new DeployCheckError('DEPLOY_CHECK_USAGE', `unknown option ${option}. ${USAGE}`);
  }
  if (context.length > 0 && templates.length > 0) {
    throw new DeployCheckError(
      'DEPLOY_CHECK_USAGE',
      `-c applies to synthesis, which --template skips. ${USAGE}`,
    );
  }
  return { context, templates };
}

const manifestShape = z.object({
  artifacts: z.record(
    z.string(),
    z.object({ type: z.string(), properties: z.object({ templateFile: z.string() }).partial().optional() }),
  ),
});

/** The templates `cdk synth` wrote to `outdir`: one per stack of the app. */
async function synthesizedTemplates(outdir: string): Promise<string[]> {
  const manifest = manifestShape.safeParse(JSON.parse(await readFile(join(outdir, 'manifest.json'), 'utf8')));
  if (!manifest.success)
    throw new DeployCheckError(
      'DEPLOY_CHECK_TEMPLATE_INVALID',
      `${outdir}/manifest.json is not a cloud assembly manifest`,
    );
  return Object.values(manifest.data.artifacts).flatMap((artifact) =>
    artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile !== undefined
      ? [join(outdir, artifact.properties.templateFile)]
      : [],
  );
}

/** `npx cdk synth` of the real app (bin/app.ts, bundling and cdk-nag included) into `outdir`. */
async function synthesize(outdir: string, context: readonly string[]): Promise<void> {
  const args = ['cdk', 'synth', '--quiet', '-o', outdir, ...context.flatMap((entry) => ['-c', entry])];
  const { code, stdout, stderr } = await runProcess('npx', args, { cwd: REPOSITORY_ROOT });
  if (code !== 0) {
    throw new DeployCheckError(
      'DEPLOY_CHECK_SYNTH_FAILED',
      `npx ${args.join(' ')} exited ${code}:\n${`${stdout}${stderr}`.trim()}`,
    );
  }
}

interface Target {
  readonly label: string;
  readonly path: string;
}

async function synthesizeVariants(workdir: string, context: readonly string[]): Promise<Target[]> {
  const variants = await Promise.all(
    WORKFLOW_TYPES.map(async (workflowType) => {
      const outdir = join(workdir, workflowType);
      await synthesize(outdir, [...context, `workflowType=${workflowType}`]);
      const paths = await synthesizedTemplates(outdir);
      return paths.map((path) => ({ label: `${workflowType} ${path.slice(outdir.length + 1)}`, path }));
    }),
  );
  return variants.flat();
}

async function main(): Promise<number> {
  const options = parseArguments(process.argv.slice(2));
  const workdir = await mkdtemp(join(tmpdir(), 'check-deploy-'));
  try {
    const targets =
      options.templates.length > 0
        ? options.templates.map((path) => ({ label: path, path }))
        : await synthesizeVariants(workdir, options.context);
    const lint = await runCfnLint(targets.map(({ path }) => path));
    let total = 0;
    for (const { label, path } of targets) {
      const json: unknown = JSON.parse(await readFile(path, 'utf8'));
      const findings = sortFindings([...(await checkTemplate(json)), ...(lint.findings.get(path) ?? [])]);
      total += findings.length;
      console.log(
        `check:deploy ${label}: ${findings.length === 0 ? 'no finding' : `${findings.length} finding(s)`}`,
      );
      for (const finding of findings) console.log(formatFinding(finding));
    }
    console.log(`cfn-lint regions: ${DEPLOY_REGIONS.join(', ')}`);
    for (const [rule, count] of lint.accepted) {
      console.log(`cfn-lint ${rule} accepted (${count} match(es)): ${ACCEPTED_CFN_LINT_RULES[rule]}`);
    }
    return total === 0 ? 0 : 1;
  } finally {
    await rm(workdir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'DEPLOY_CHECK_FAILED';
    console.error(`check:deploy ${code}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);

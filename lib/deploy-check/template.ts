import { z } from 'zod';
import { DeployCheckError } from './errors';

const resourceShape = z.looseObject({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
  DependsOn: z.union([z.string(), z.array(z.string())]).optional(),
});
const templateShape = z.looseObject({ Resources: z.record(z.string(), resourceShape) });

export type CfnResource = z.infer<typeof resourceShape>;

/** A JSON object, as the values inside a template are. */
export type JsonRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A property of CloudFormation's `Json` type (a policy document, a redrive policy), which a template may give as
 * an object or as JSON text; `undefined` when the text is not JSON (cfn-lint reports that).
 */
export function jsonProperty(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** A property that CloudFormation takes as one value or a list, as a list. */
export function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** `{ Ref: id }` or `{ 'Fn::GetAtt': [id, attribute] }` (or its `"id.attribute"` form), split. */
export function referenceOf(
  value: unknown,
): { readonly id: string; readonly attribute?: string } | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === 'string') return { id: value.Ref };
  const getAtt = value['Fn::GetAtt'];
  if (typeof getAtt === 'string') {
    const dot = getAtt.indexOf('.');
    return dot < 0 ? undefined : { id: getAtt.slice(0, dot), attribute: getAtt.slice(dot + 1) };
  }
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string') {
    return { id: getAtt[0], attribute: getAtt[1] };
  }
  return undefined;
}

/** The names a `Fn::Sub` string refers to: `${Id}`, `${Id.Attribute}`, `${AWS::Region}`; not `${!Literal}`. */
export function subReferences(text: string): string[] {
  return [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1] ?? '');
}

/** Every logical id a value refers to through Ref, Fn::GetAtt or Fn::Sub, at any depth. */
function referencedIds(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) referencedIds(item, into);
    return;
  }
  if (!isRecord(value)) return;
  const reference = referenceOf(value);
  if (reference !== undefined && !reference.id.startsWith('AWS::')) into.add(reference.id);
  const sub = value['Fn::Sub'];
  const subText = typeof sub === 'string' ? sub : Array.isArray(sub) ? sub[0] : undefined;
  if (typeof subText === 'string') {
    const variables = Array.isArray(sub) && isRecord(sub[1]) ? sub[1] : {};
    for (const name of subReferences(subText)) {
      const id = name.split('.')[0] ?? '';
      if (!id.startsWith('AWS::') && !(id in variables)) into.add(id);
    }
  }
  for (const nested of Object.values(value)) referencedIds(nested, into);
}

/**
 * A synthesized CloudFormation template, read the way CloudFormation reads it: resources by logical id and type,
 * and the order it creates them in (a resource waits for every resource it references or names in DependsOn).
 */
export class DeployTemplate {
  public readonly resources: ReadonlyMap<string, CfnResource>;
  private readonly closures = new Map<string, ReadonlySet<string>>();

  public constructor(json: unknown) {
    const parsed = templateShape.safeParse(json);
    if (!parsed.success) {
      throw new DeployCheckError(
        'DEPLOY_CHECK_TEMPLATE_INVALID',
        `not a CloudFormation template: ${parsed.error.issues[0]?.message}`,
      );
    }
    this.resources = new Map(Object.entries(parsed.data.Resources));
  }

  public resource(id: string): CfnResource | undefined {
    return this.resources.get(id);
  }

  /** The resources of one CloudFormation type, with their logical ids, in template order. */
  public ofType(type: string): Array<readonly [string, CfnResource]> {
    return [...this.resources].filter(([, resource]) => resource.Type === type);
  }

  /** The resource a Ref or Fn::GetAtt points at, when it is one of this template's. */
  public target(value: unknown): { readonly id: string; readonly resource: CfnResource } | undefined {
    const reference = referenceOf(value);
    const resource = reference === undefined ? undefined : this.resources.get(reference.id);
    return reference === undefined || resource === undefined ? undefined : { id: reference.id, resource };
  }

  /** The resources CloudFormation must have created before `id`: its references and DependsOn, transitively. */
  public createdBefore(id: string): ReadonlySet<string> {
    const known = this.closures.get(id);
    if (known !== undefined) return known;
    const closure = new Set<string>();
    const pending = [id];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      for (const dependency of this.directDependencies(next)) {
        if (!closure.has(dependency)) {
          closure.add(dependency);
          pending.push(dependency);
        }
      }
    }
    this.closures.set(id, closure);
    return closure;
  }

  private directDependencies(id: string): Set<string> {
    const resource = this.resources.get(id);
    const dependencies = new Set<string>();
    if (resource === undefined) return dependencies;
    referencedIds(resource.Properties, dependencies);
    for (const dependency of asList(resource.DependsOn)) {
      if (typeof dependency === 'string') dependencies.add(dependency);
    }
    return dependencies;
  }
}

/**
 * A template value as a reader would write it, for messages: strings as they are, `<Id>` for a Ref, `<Id.Attr>`
 * for a Fn::GetAtt, joins and subs spelled out.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const reference = referenceOf(value);
  if (reference !== undefined) {
    return reference.attribute === undefined
      ? `<${reference.id}>`
      : `<${reference.id}.${reference.attribute}>`;
  }
  if (isRecord(value)) {
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return join[1].map(describeValue).join(join[0]);
    }
    const sub = value['Fn::Sub'];
    if (typeof sub === 'string') return sub;
    if (Array.isArray(sub) && typeof sub[0] === 'string') return sub[0];
  }
  return JSON.stringify(value);
}

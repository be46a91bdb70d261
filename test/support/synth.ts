import { App, CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { AppModel } from '../../lib/model';
import { OrderBackboneStack, type OrderBackboneStackProps } from '../../lib/stack';

/** Skips esbuild for every stack: infrastructure tests read the template, not the code. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

export interface Synthesized {
  readonly stack: OrderBackboneStack;
  readonly template: Template;
}

/** The stack built from `model`, without bundling, and its template. */
export function synthesize(model: AppModel, props: Partial<OrderBackboneStackProps> = {}): Synthesized {
  const app = new App({ context: SKIP_BUNDLING });
  const stack = new OrderBackboneStack(app, 'OrderBackboneTest', { model, ...props });
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id of a CloudFormation resource, or of the default resource of a higher-level construct. */
export function logicalIdOf(construct: IConstruct | undefined): string {
  const resource = construct instanceof CfnElement ? construct : construct?.node.defaultChild;
  if (!(resource instanceof CfnElement))
    throw new Error(`no CloudFormation resource under ${construct?.node.path}`);
  return resource.stack.getLogicalId(resource);
}

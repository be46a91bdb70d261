import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { EventBusDeclaration } from '../model';

export interface ModelEventBusProps {
  /** The bus as `lib/model.ts` declares it. */
  readonly declaration: EventBusDeclaration;
}

/**
 * A custom EventBridge bus named exactly as declared: other services subscribe to it by name (their rules name
 * the bus), so, unlike queues and tables, its physical name is part of the contract and is not left to
 * CloudFormation. One stack per account and region can therefore own a given bus name.
 */
export class ModelEventBus extends Construct {
  public readonly bus: events.EventBus;

  public constructor(scope: Construct, id: string, props: ModelEventBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.declaration.name });
  }

  /** Lets `grantee` call `events:PutEvents` on this bus and no other (not the account's default bus). */
  public grantPut(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }
}

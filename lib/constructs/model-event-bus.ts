import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { EventBusDeclaration } from '../model';

export interface ModelEventBusProps {
  /** The bus as `lib/model.ts` declares it. */
  readonly declaration: EventBusDeclaration;
}

/**
 * A custom EventBridge bus. Its physical name is left to the CDK (the construct path, the stack's name first), so
 * that a staging and a production stack can share an account and region; other services find it through the
 * stack output `<Declared>EventBusName`. Locally it keeps its declared name.
 */
export class ModelEventBus extends Construct {
  public readonly bus: events.EventBus;

  public constructor(scope: Construct, id: string, props: ModelEventBusProps) {
    super(scope, id);
    // The declared name stays visible on the console, as the description.
    this.bus = new events.EventBus(this, 'Bus', { description: `The ${props.declaration.name} bus` });
  }

  /** Lets `grantee` call `events:PutEvents` on this bus and no other (not the account's default bus). */
  public grantPut(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }
}

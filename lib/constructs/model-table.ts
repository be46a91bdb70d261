import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { TableDeclaration } from '../model';

export interface ModelTableProps {
  /** The table as `lib/model.ts` declares it: keys, stream, TTL attribute and indexes. */
  readonly declaration: TableDeclaration;
  /**
   * What happens to the table (and its data) when it leaves the stack.
   * @default RemovalPolicy.RETAIN - orders and payments outlive a mistaken `cdk destroy`.
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A DynamoDB table built from its declaration, with the defaults an order store needs: on-demand billing
 * (traffic follows shop campaigns, not a steady rate), point-in-time recovery, encryption under the AWS
 * managed key, string `PK`/`SK`-style keys and the declared stream, TTL attribute and global secondary indexes
 * (all attributes projected, so a sparse index can serve whole items).
 */
export class ModelTable extends Construct {
  public readonly table: dynamodb.TableV2;

  public constructor(scope: Construct, id: string, props: ModelTableProps) {
    super(scope, id);
    const { declaration } = props;
    const stringKey = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: stringKey(declaration.partitionKey),
      sortKey: stringKey(declaration.sortKey),
      billing: dynamodb.Billing.onDemand(),
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      dynamoStream:
        declaration.stream === undefined ? undefined : dynamodb.StreamViewType[declaration.stream],
      timeToLiveAttribute: declaration.ttlAttribute,
      globalSecondaryIndexes: declaration.indexes?.map((index) => ({
        indexName: index.name,
        partitionKey: stringKey(index.partitionKey),
        sortKey: stringKey(index.sortKey),
        ...(index.projectedAttributes.length === 0
          ? { projectionType: dynamodb.ProjectionType.KEYS_ONLY }
          : {
              projectionType: dynamodb.ProjectionType.INCLUDE,
              nonKeyAttributes: [...index.projectedAttributes],
            }),
      })),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}

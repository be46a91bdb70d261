import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { PROVISIONED_TARGET_UTILIZATION_PERCENT, type TableDeclaration } from '../model';

/** The lowest and highest capacity units autoscaling may provision. */
export interface CapacityRange {
  readonly min: number;
  readonly max: number;
}

/**
 * How a table pays for throughput. ON_DEMAND: per request, no capacity to plan, any burst up to the table's
 * quota. PROVISIONED: per hour of capacity, autoscaled between `min` and `max` to keep consumption at
 * {@link PROVISIONED_TARGET_UTILIZATION_PERCENT}; each global secondary index gets the same settings. About 40 %
 * of the on-demand price per unit used when traffic rises and falls slowly, but autoscaling takes minutes to
 * follow a sudden rise, and requests beyond capacity (and burst credit) are throttled until it does.
 */
export type TableCapacity =
  | { readonly mode: 'ON_DEMAND' }
  | { readonly mode: 'PROVISIONED'; readonly write: CapacityRange; readonly read: CapacityRange };

export class TableCapacityError extends Error {
  public override readonly name = 'TableCapacityError';
  public readonly code = 'INVALID_TABLE_CAPACITY';
}

/** `5-2000`: autoscaling's bounds in capacity units, whole numbers, at least 1, min not above max. */
function capacityRange(text: unknown, setting: string): CapacityRange {
  const match = typeof text === 'string' ? /^(\d+)-(\d+)$/.exec(text.trim()) : null;
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (match === null || min < 1 || min > max) {
    throw new TableCapacityError(
      `${setting} must be <min>-<max> capacity units with 1 <= min <= max (say 5-2000), not ${String(text)}`,
    );
  }
  return { min, max };
}

/**
 * The capacity settings as CDK context gives them (`bin/app.ts`): `tableCapacity` ON_DEMAND (the default) or
 * PROVISIONED, which then needs `tableWriteCapacity` and `tableReadCapacity` as `<min>-<max>` ranges.
 */
export function tableCapacityFrom(settings: {
  readonly tableCapacity?: unknown;
  readonly tableWriteCapacity?: unknown;
  readonly tableReadCapacity?: unknown;
}): TableCapacity {
  const mode = settings.tableCapacity ?? 'ON_DEMAND';
  if (mode === 'ON_DEMAND') {
    if (settings.tableWriteCapacity !== undefined || settings.tableReadCapacity !== undefined) {
      throw new TableCapacityError(
        'tableWriteCapacity and tableReadCapacity apply to tableCapacity=PROVISIONED only',
      );
    }
    return { mode };
  }
  if (mode !== 'PROVISIONED') {
    throw new TableCapacityError(`tableCapacity must be ON_DEMAND or PROVISIONED, not ${String(mode)}`);
  }
  return {
    mode,
    write: capacityRange(settings.tableWriteCapacity, 'tableWriteCapacity'),
    read: capacityRange(settings.tableReadCapacity, 'tableReadCapacity'),
  };
}

export interface ModelTableProps {
  /** The table as `lib/model.ts` declares it: keys, stream, TTL attribute and indexes. */
  readonly declaration: TableDeclaration;
  /**
   * What happens to the table (and its data) when it leaves the stack.
   * @default RemovalPolicy.RETAIN - orders and payments outlive a mistaken `cdk destroy`.
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How the table pays for throughput.
   * @default { mode: 'ON_DEMAND' }
   */
  readonly capacity?: TableCapacity;
}

/**
 * A DynamoDB table built from its declaration, with the defaults an order store needs: on-demand billing
 * (traffic follows shop campaigns, not a steady rate; see {@link TableCapacity} for the other mode),
 * point-in-time recovery, encryption under the AWS managed key, string `PK`/`SK`-style keys and the declared
 * stream, TTL attribute and global secondary indexes (each projecting the attributes it declares).
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
      billing: billing(props.capacity ?? { mode: 'ON_DEMAND' }),
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

function billing(capacity: TableCapacity): dynamodb.Billing {
  if (capacity.mode === 'ON_DEMAND') return dynamodb.Billing.onDemand();
  const autoscaled = (range: CapacityRange) =>
    dynamodb.Capacity.autoscaled({
      minCapacity: range.min,
      maxCapacity: range.max,
      targetUtilizationPercent: PROVISIONED_TARGET_UTILIZATION_PERCENT,
    });
  return dynamodb.Billing.provisioned({
    writeCapacity: autoscaled(capacity.write),
    readCapacity: autoscaled(capacity.read),
  });
}

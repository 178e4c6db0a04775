import { RemovalPolicy } from 'aws-cdk-lib';
import {
  type Attribute,
  AttributeType,
  BillingMode,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { KeyDef, TableDef } from '../topology.ts';

export interface PaymentsTableProps {
  readonly def: TableDef;
  /**
   * What happens to the table when it leaves the stack. The ledger is the permanent record of every
   * payment: it is never deleted by a deploy.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A DynamoDB table built from its topology definition: on-demand, point-in-time recovery, deletion
 * protection, retained on stack removal.
 *
 * Encryption uses the AWS-managed key (`alias/aws/dynamodb`) rather than a customer-managed key: it is
 * still KMS with CloudTrail-audited use, while a CMK would add a key policy to keep right and
 * `kms:Decrypt`/`kms:Encrypt` grants on every function, so the IAM statements would no longer be exactly
 * the table actions in the topology. Revisit if a compliance regime demands a CMK (cross-account access,
 * key revocation).
 */
export class PaymentsTable extends Construct {
  readonly table: Table;
  readonly def: TableDef;

  constructor(scope: Construct, id: string, props: PaymentsTableProps) {
    super(scope, id);
    const { def } = props;
    this.def = def;
    this.table = new Table(this, 'table', {
      partitionKey: attribute(def.partitionKey),
      sortKey: def.sortKey && attribute(def.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      timeToLiveAttribute: def.ttlAttribute,
    });
    for (const gsi of def.gsis ?? []) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: attribute(gsi.partitionKey),
        sortKey: gsi.sortKey && attribute(gsi.sortKey),
        ...(gsi.include
          ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...gsi.include] }
          : { projectionType: ProjectionType.ALL }),
      });
    }
  }
}

function attribute(key: KeyDef): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

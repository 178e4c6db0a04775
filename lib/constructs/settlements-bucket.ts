import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface SettlementsBucketProps {
  /**
   * How long server access logs are kept.
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
}

/**
 * The settlements bucket (finance uploads under `incoming/`, reports are written under `reports/`) and
 * a separate bucket for its server access logs. Both: public access blocked, SSE-S3, TLS only,
 * retained on stack removal.
 *
 * SSE-S3 rather than SSE-KMS: server access logs can only be delivered to an SSE-S3 bucket, and for the
 * settlements bucket a CMK would add `kms:*` grants to the reconcile function and to finance's upload
 * role without a threat it mitigates here (access is already controlled by IAM and the bucket policy).
 */
export class SettlementsBucket extends Construct {
  readonly bucket: Bucket;
  readonly logsBucket: Bucket;

  constructor(scope: Construct, id: string, props: SettlementsBucketProps = {}) {
    super(scope, id);

    this.logsBucket = new Bucket(this, 'access-logs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: props.accessLogExpiration ?? Duration.days(365) }],
    });
    // No AwsSolutions-S1 finding here: cdk-nag recognises an access-log destination by its bucket policy.

    this.bucket = new Bucket(this, 'bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      // Reconciliation reads the version the S3 event names; old versions only matter for audits.
      // exceptions.csv is a multipart upload: parts of a run that died before completing go after a day.
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(400) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    // Server access logs through a bucket policy (the modern way, no ACLs), set on the L1: the L2
    // `serverAccessLogsBucket` would fall back to the LogDeliveryWrite ACL unless the
    // `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` flag is set in cdk.json.
    const logPrefix = 'settlements/';
    (this.bucket.node.defaultChild as CfnBucket).loggingConfiguration = {
      destinationBucketName: this.logsBucket.bucketName,
      logFilePrefix: logPrefix,
    };
    this.logsBucket.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.logsBucket.arnForObjects(`${logPrefix}*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': this.bucket.env.account },
        },
      }),
    );
  }
}

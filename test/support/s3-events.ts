/**
 * The S3 `ObjectCreated:Put` event Lambda receives for one upload, its key URL-encoded as AWS encodes
 * it (sandbox/s3.ts): what the reconcile handler is invoked with in tests that call it directly.
 */
import type { S3Event } from 'aws-lambda';
import { encodeS3EventKey } from '../../sandbox/s3.ts';

export function objectCreatedEvent(bucket: string, key: string): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'x' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'x', 'x-amz-id-2': 'x' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'incoming',
          bucket: { name: bucket, ownerIdentity: { principalId: 'x' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeS3EventKey(key), size: 1, eTag: 'x', sequencer: '1' },
        },
      },
    ],
  };
}

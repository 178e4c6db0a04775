/**
 * Replaying the AWS on-failure queue. SQS and Lambda cannot run here, so their clients are mocked;
 * what is tested is our part: which payload is re-invoked on which function, and that a message is
 * deleted only after the replay succeeded.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { replayFromQueue } from '../../sandbox/replay.ts';

const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/reconcile-failures';
const arn = 'arn:aws:lambda:us-east-1:123456789012:function:DaigouPayments-reconcile';

function record(payload: unknown) {
  return JSON.stringify({
    version: '1.0',
    requestContext: {
      functionArn: `${arn}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: payload,
    responsePayload: { errorType: 'Error', errorMessage: 'boom' },
  });
}

/** The SDK types a Lambda payload as a blob adapter; the code only reads its bytes. */
const payload = (text: string) => Buffer.from(text) as never;

beforeEach(() => {
  sqs.reset();
  lambda.reset();
});

describe('replayFromQueue', () => {
  it('re-invokes the original payload on its function and deletes the message only on success', async () => {
    const s3Event = { Records: [{ s3: { object: { key: 'incoming/stripe/a.csv' } } }] };
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm1', ReceiptHandle: 'r1', Body: record(s3Event) },
          { MessageId: 'm2', ReceiptHandle: 'r2', Body: record({ again: true }) },
          { MessageId: 'm3', ReceiptHandle: 'r3', Body: 'not json' },
        ],
      })
      .resolves({ Messages: [] });
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 200, Payload: payload('[]') })
      .resolvesOnce({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: payload('{"errorMessage":"still broken"}'),
      });

    const out = await replayFromQueue({
      sqs: sqs as never,
      lambda: lambda as never,
      queueUrl,
      functionName: arn,
      max: 10,
    });
    expect(out).toEqual([
      { id: 'm1', function: arn, ok: true },
      { id: 'm2', function: arn, ok: false, error: '{"errorMessage":"still broken"}' },
      { id: 'm3', function: '?', ok: false, error: 'message body is not a Lambda invocation record' },
    ]);
    const invoked = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(invoked.FunctionName).toBe(arn);
    expect(invoked.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(Buffer.from(invoked.Payload as Uint8Array).toString('utf8'))).toEqual(s3Event);
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(['r1']);
  });

  it('--dry-run invokes and deletes nothing', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: record({}) }] })
      .resolves({});
    const out = await replayFromQueue({
      sqs: sqs as never,
      lambda: lambda as never,
      queueUrl,
      functionName: arn,
      max: 5,
      dryRun: true,
    });
    expect(out).toEqual([{ id: 'm1', function: arn, ok: true }]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });
  it('regression: a record naming another function is never invoked, and stays in the queue', async () => {
    const foreign = record({ Records: [] }).replace(
      'DaigouPayments-reconcile',
      'DaigouPayments-callback-stripe',
    );
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm9', ReceiptHandle: 'r9', Body: foreign }] })
      .resolves({ Messages: [] });
    const out = await replayFromQueue({
      sqs: sqs as never,
      lambda: lambda as never,
      queueUrl,
      functionName: 'DaigouPayments-reconcile',
      max: 10,
    });
    expect(out).toEqual([
      {
        id: 'm9',
        function: 'arn:aws:lambda:us-east-1:123456789012:function:DaigouPayments-callback-stripe',
        ok: false,
        error: "the record names another function than this queue's (DaigouPayments-reconcile); not replayed",
      },
    ]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });
});

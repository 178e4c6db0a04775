/**
 * Replaying dead-lettered asynchronous invocations (reconcile, FX refresh) once the cause is fixed.
 * AWS: the on-failure SQS queue holds Lambda invocation records; each record's `requestPayload` is
 * invoked again on its function, synchronously, and the message is deleted only when that succeeded.
 * Sandbox: the same over its `/_sandbox/dead-letters` routes.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface ReplayOutcome {
  readonly id: string;
  readonly function: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** A Lambda on-failure destination record (the SQS message body). */
interface InvocationRecord {
  requestContext?: { functionArn?: string; condition?: string; approximateInvokeCount?: number };
  requestPayload?: unknown;
}

/** The function ARN without a `:$LATEST` qualifier (invoke the current version). */
function functionOf(record: InvocationRecord): string | undefined {
  return record.requestContext?.functionArn?.replace(/:\$LATEST$/, '');
}

/**
 * Whether a record's function is the queue's own. A message body is data anyone with `sqs:SendMessage`
 * on the queue could write; only the function the queue belongs to is ever invoked.
 */
export function isQueueFunction(recordFunction: string, queueFunction: string): boolean {
  const name = (arnOrName: string) => /:function:([^:]+)/.exec(arnOrName)?.[1] ?? arnOrName;
  return queueFunction.startsWith('arn:')
    ? recordFunction === queueFunction.replace(/:\$LATEST$/, '')
    : name(recordFunction) === queueFunction;
}

export async function replayFromQueue(options: {
  sqs: SQSClient;
  lambda: LambdaClient;
  queueUrl: string;
  /** The function this queue is the on-failure destination of (name or ARN): the only one invoked. */
  functionName: string;
  /** Replay at most this many messages. */
  max: number;
  /** List what would be replayed, change nothing. */
  dryRun?: boolean;
  progress?: (line: string) => void;
}): Promise<ReplayOutcome[]> {
  const out: ReplayOutcome[] = [];
  while (out.length < options.max) {
    const batch = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(10, options.max - out.length),
        WaitTimeSeconds: 1,
        // Long enough for a 15-minute reconcile to run before the message would reappear.
        VisibilityTimeout: 960,
      }),
    );
    const messages = batch.Messages ?? [];
    if (!messages.length) break;
    for (const message of messages) {
      const id = message.MessageId ?? '?';
      let record: InvocationRecord;
      try {
        record = JSON.parse(message.Body ?? '') as InvocationRecord;
      } catch {
        out.push({ id, function: '?', ok: false, error: 'message body is not a Lambda invocation record' });
        continue;
      }
      const fn = functionOf(record);
      if (!fn || record.requestPayload === undefined) {
        out.push({
          id,
          function: fn ?? '?',
          ok: false,
          error: 'no functionArn or requestPayload in the record',
        });
        continue;
      }
      if (!isQueueFunction(fn, options.functionName)) {
        // Left in the queue for a person to look at; never invoked.
        out.push({
          id,
          function: fn,
          ok: false,
          error: `the record names another function than this queue's (${options.functionName}); not replayed`,
        });
        continue;
      }
      if (options.dryRun) {
        out.push({ id, function: fn, ok: true });
        continue;
      }
      options.progress?.(`replaying ${id} on ${fn}…`);
      const res = await options.lambda.send(
        new InvokeCommand({
          FunctionName: options.functionName.startsWith('arn:') ? fn : options.functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(record.requestPayload)),
        }),
      );
      if (res.FunctionError) {
        // Left in the queue: it becomes visible again after the visibility timeout.
        const detail = res.Payload
          ? Buffer.from(res.Payload).toString('utf8').slice(0, 300)
          : res.FunctionError;
        out.push({ id, function: fn, ok: false, error: detail });
        continue;
      }
      await options.sqs.send(
        new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      out.push({ id, function: fn, ok: true });
    }
  }
  return out;
}

export async function replayInSandbox(options: {
  api: string;
  id?: string;
  function?: string;
  dryRun?: boolean;
}): Promise<ReplayOutcome[]> {
  const res = await fetch(`${options.api}/_sandbox/dead-letters`);
  const { deadLetters } = (await res.json()) as {
    deadLetters: { id: string; function: string; error: string }[];
  };
  const chosen = deadLetters.filter(
    (l) => (!options.id || l.id === options.id) && (!options.function || l.function === options.function),
  );
  const out: ReplayOutcome[] = [];
  for (const letter of chosen) {
    if (options.dryRun) {
      out.push({ id: letter.id, function: letter.function, ok: true });
      continue;
    }
    const replay = await fetch(
      `${options.api}/_sandbox/dead-letters/${encodeURIComponent(letter.id)}/replay`,
      {
        method: 'POST',
      },
    );
    const body = (await replay.json()) as { error?: string };
    out.push({
      id: letter.id,
      function: letter.function,
      ok: replay.ok,
      ...(body.error ? { error: body.error } : {}),
    });
  }
  return out;
}

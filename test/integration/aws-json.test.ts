/**
 * The functions' own EventBridge and Secrets Manager calls (functions/adapters/aws-json.ts) against a
 * local HTTP server standing in for each service (the SDK's `AWS_ENDPOINT_URL_*` variables point them
 * at it): the request is what the SDK's own client sends for the same input, its SigV4 signature checks
 * out with the environment's keys, service errors keep their exception name, and only transient ones
 * are retried.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlertDeliveryError, createAlerts } from '../../functions/adapters/alerts.ts';
import { regionalHost, Sha256 } from '../../functions/adapters/aws-signing.ts';
import { loadGatewaySecret } from '../../functions/adapters/gateway-secret.ts';
import { clearSecretCache } from '../../functions/adapters/secrets-manager.ts';
import { ConfigError } from '../../functions/shared/config.ts';

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly signatureValid: boolean;
}

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
let server: http.Server;
let endpoint: string;
let received: Received[] = [];
let answers: Array<{ status: number; body: object }> = [];

/** Recomputes the request's SigV4 signature with the known secret key, at the request's own x-amz-date. */
async function signatureValid(req: http.IncomingMessage, body: string): Promise<boolean> {
  const auth = String(req.headers.authorization ?? '');
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  if (!scope || !signedHeaders.includes('host') || !signedHeaders.includes('x-amz-target')) return false;
  const amzDate = String(req.headers['x-amz-date']);
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h])]));
  const signer = new SignatureV4({
    service: scope[2]!,
    region: scope[1]!,
    credentials: KEYS,
    sha256: Sha256,
  });
  const expected = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: '/', query: {}, headers, body },
    { signingDate: date },
  );
  return expected.headers.authorization === auth;
}

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    received.push({ headers: req.headers, body, signatureValid: await signatureValid(req, body) });
    const answer = answers.shift() ?? { status: 200, body: {} };
    res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(answer.body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

beforeEach(() => {
  received = [];
  answers = [];
  clearSecretCache();
});

const env = () => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
  AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
  ALERT_SINK: 'aws',
});

describe('EventBridge PutEvents (alerts)', () => {
  it('sends what the SDK client sends, signed with the environment keys', async () => {
    answers.push({ status: 200, body: { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] } });
    await createAlerts(env()).raise('Double Payment', { orderId: 'ord_1' });

    const sdk = new EventBridgeClient({ endpoint, region: 'eu-west-1', credentials: KEYS });
    answers.push({ status: 200, body: { FailedEntryCount: 0, Entries: [{ EventId: 'e-2' }] } });
    await sdk.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'daigou.payments',
            DetailType: 'Double Payment',
            Detail: JSON.stringify({ orderId: 'ord_1' }),
            EventBusName: 'default',
          },
        ],
      }),
    );
    sdk.destroy();

    const [ours, theirs] = received;
    expect(ours!.signatureValid).toBe(true);
    expect(ours!.headers['x-amz-target']).toBe('AWSEvents.PutEvents');
    expect(ours!.headers['x-amz-target']).toBe(theirs!.headers['x-amz-target']);
    expect(ours!.headers['content-type']).toBe(theirs!.headers['content-type']);
    expect(JSON.parse(ours!.body)).toEqual(JSON.parse(theirs!.body));
    expect(String(ours!.headers.authorization)).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/events\//);
  });

  it('a refused entry is an AlertDeliveryError, not a sent alert', async () => {
    answers.push({
      status: 200,
      body: { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] },
    });
    const error = await createAlerts(env())
      .raise('Double Payment', {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlertDeliveryError);
    expect((error as Error).message).toContain('InternalFailure');
  });

  it('retries throttling and 5xx up to three attempts, not a client error', async () => {
    answers.push(
      { status: 400, body: { __type: 'ThrottlingException', message: 'slow down' } },
      { status: 500, body: { __type: 'InternalException' } },
      { status: 200, body: { FailedEntryCount: 0, Entries: [{ EventId: 'e' }] } },
    );
    await createAlerts(env()).raise('Double Payment', {});
    expect(received).toHaveLength(3);

    received = [];
    answers.push({ status: 400, body: { __type: 'com.amazon.coral#AccessDeniedException', Message: 'no' } });
    const error = (await createAlerts(env())
      .raise('Double Payment', {})
      .catch((e: unknown) => e)) as Error & { $metadata: { httpStatusCode: number } };
    expect(received).toHaveLength(1);
    expect(error.name).toBe('AccessDeniedException');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });
});

describe('Secrets Manager GetSecretValue (gateway secrets)', () => {
  it('reads SecretString, signed, and caches it for five minutes', async () => {
    answers.push({ status: 200, body: { SecretString: JSON.stringify({ webhookSecrets: ['whsec_x'] }) } });
    const e = { ...env(), GATEWAY_SECRET_ID: 'daigou/gateways/stripe' };
    expect(await loadGatewaySecret(e, 'stripe')).toEqual({ webhookSecrets: ['whsec_x'] });
    expect(await loadGatewaySecret(e, 'stripe')).toEqual({ webhookSecrets: ['whsec_x'] });
    expect(received).toHaveLength(1);
    expect(received[0]!.signatureValid).toBe(true);
    expect(received[0]!.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(received[0]!.body)).toEqual({ SecretId: 'daigou/gateways/stripe' });
  });

  it('a binary secret or a missing one fails with the variable named', async () => {
    answers.push({ status: 200, body: { SecretBinary: Buffer.from('{}').toString('base64') } });
    const binary = await loadGatewaySecret({ ...env(), GATEWAY_SECRET_ID: 'bin' }, 'stripe').catch((e) => e);
    expect(binary).toBeInstanceOf(ConfigError);
    expect((binary as Error).message).toContain('is binary');

    answers.push({
      status: 400,
      body: {
        __type: 'ResourceNotFoundException',
        Message: "Secrets Manager can't find the specified secret.",
      },
    });
    const missing = (await loadGatewaySecret({ ...env(), GATEWAY_SECRET_ID: 'gone' }, 'stripe').catch(
      (e) => e,
    )) as Error;
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(received).toHaveLength(2);
  });

  it('without keys in the environment nothing is sent', async () => {
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...keyless } = env();
    const error = await loadGatewaySecret({ ...keyless, GATEWAY_SECRET_ID: 'x' }, 'stripe').catch((e) => e);
    expect(String(error)).toContain('no AWS credentials in the environment');
    expect(received).toHaveLength(0);
  });
});

describe('regional endpoints', () => {
  it('China regions are under amazonaws.com.cn', () => {
    expect(regionalHost('events', 'cn-north-1')).toBe('events.cn-north-1.amazonaws.com.cn');
    expect(regionalHost('secretsmanager', 'eu-west-1')).toBe('secretsmanager.eu-west-1.amazonaws.com');
  });
});

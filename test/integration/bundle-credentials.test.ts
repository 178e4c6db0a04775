/**
 * What the bundles leave out (lib/bundling.ts), proven on real bundles in fresh Node processes.
 *
 * The bundles resolve AWS credentials from the environment only (lib/bundling.ts aliases the SDK's
 * default provider chain to functions/shared/env-credentials.ts). Proven on a real bundle, run in a
 * fresh Node process against DynamoDB Local through a proxy that records each request's SigV4
 * `Credential=` and security token:
 * - env credentials sign the request, even with a profile set whose shared credentials file names
 *   other keys (the SDK's full chain would prefer that profile);
 * - without env credentials nothing is sent, whatever the shared files say: no other source is asked.
 *
 * The bundles carry no event-stream codec: the bundled reconcile function still reads a settlement
 * file from s3rver and writes its reports there (the S3 client is built with the stand-in).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlingOptions } from '../../lib/bundling.ts';
import { functions } from '../../lib/topology.ts';
import { encodeS3EventKey } from '../../sandbox/s3.ts';
import { stripeCsv } from '../fixtures/settlement/builders.ts';
import { httpEvent } from '../support/http-events.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';

interface Seen {
  readonly accessKeyId: string | undefined;
  readonly sessionToken: string | undefined;
  readonly target: string | undefined;
}

let r: TestResources;
let proxy: Server;
let proxyUrl: string;
let bundle: string;
let home: string;
const seen: Seen[] = [];

beforeAll(async () => {
  r = await createTestResources();
  const upstream = new URL(r.dynamodbEndpoint);
  proxy = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push({
      accessKeyId: /Credential=([^/]+)\//.exec(auth)?.[1],
      sessionToken: req.headers['x-amz-security-token'] as string | undefined,
      target: req.headers['x-amz-target'] as string | undefined,
    });
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const dir = mkdtempSync(path.join(tmpdir(), 'daigou-bundle-creds-'));
  bundle = path.join(dir, 'orders.mjs');
  await build({
    ...bundlingOptions,
    entryPoints: [functions.orders!.entry],
    bundle: true,
    outfile: bundle,
    logLevel: 'error',
  });
  // A home whose shared files name other keys: the SDK's default chain would use them.
  home = path.join(dir, 'home');
  mkdirSync(path.join(home, '.aws'), { recursive: true });
  writeFileSync(
    path.join(home, '.aws', 'credentials'),
    '[default]\naws_access_key_id = AKIDFROMFILEDEFAULT\naws_secret_access_key = file-secret\n\n[other]\naws_access_key_id = AKIDFROMFILEPROFILE\naws_secret_access_key = file-secret\n',
  );
  writeFileSync(path.join(home, '.aws', 'config'), '[default]\nregion = us-east-1\n');
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
});

/** Runs the bundled orders handler once (GET /orders/{id}) in a fresh process; returns its response. */
async function getOrderThroughBundle(
  credentials: Record<string, string>,
): Promise<{ statusCode: number; body: string }> {
  const event = httpEvent({
    method: 'GET',
    path: '/orders/ord_absent',
    routeKey: 'GET /orders/{orderId}',
    pathParameters: { orderId: 'ord_absent' },
  });
  const script = `const m = await import(${JSON.stringify(bundle)});
const out = await m.handler(JSON.parse(process.env.EVENT), { getRemainingTimeInMillis: () => 10000, functionName: 'orders', awsRequestId: 'r' });
process.stdout.write(JSON.stringify({ statusCode: out.statusCode, body: out.body }));`;
  // The test resources give each function keys of its own (the sandbox's IAM proxy): drop them too, so
  // only what `credentials` passes is in the environment.
  const {
    DYNAMODB_ENDPOINT: _local,
    S3_ENDPOINT: _s3,
    AWS_ACCESS_KEY_ID: _key,
    AWS_SECRET_ACCESS_KEY: _secret,
    AWS_SESSION_TOKEN: _token,
    ...env
  } = r.envFor('orders');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      ...env,
      // The SDK's own service endpoint variable: the client is built exactly as in AWS (no endpoint,
      // no credentials in its config), so credentials come from the provider chain.
      AWS_ENDPOINT_URL_DYNAMODB: proxyUrl,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      EVENT: JSON.stringify(event),
      ...credentials,
    },
  });
  return JSON.parse(stdout) as { statusCode: number; body: string };
}

describe('bundled functions sign with environment credentials only', () => {
  it('signs with AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN from the environment, not a configured profile', async () => {
    seen.length = 0;
    const res = await getOrderThroughBundle({
      AWS_ACCESS_KEY_ID: 'AKIDFROMENVIRONMENT',
      AWS_SECRET_ACCESS_KEY: 'env-secret',
      AWS_SESSION_TOKEN: 'token-from-environment',
      AWS_PROFILE: 'other',
    });
    // DynamoDB Local answered the signed GetItem: the order does not exist.
    expect(res).toEqual({ statusCode: 404, body: JSON.stringify({ error: 'order_not_found' }) });
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      expect(s.accessKeyId).toBe('AKIDFROMENVIRONMENT');
      expect(s.sessionToken).toBe('token-from-environment');
    }
    expect(seen.map((s) => s.target)).toContain('DynamoDB_20120810.GetItem');
  });

  it('without environment credentials it sends nothing: the shared credentials file is never read', async () => {
    seen.length = 0;
    const res = await getOrderThroughBundle({ AWS_PROFILE: 'other' });
    expect(res.statusCode).toBe(500);
    expect(seen).toEqual([]);
    // And no profile: the default profile of the file is not used either.
    const again = await getOrderThroughBundle({});
    expect(again.statusCode).toBe(500);
    expect(seen).toEqual([]);
  });
});

describe('bundled functions without the event-stream codec', () => {
  it('the bundled reconcile function reads a settlement file from S3 and writes its reports there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'daigou-bundle-reconcile-'));
    const reconcileBundle = path.join(dir, 'reconcile.mjs');
    await build({
      ...bundlingOptions,
      entryPoints: [functions.reconcile!.entry],
      bundle: true,
      outfile: reconcileBundle,
      logLevel: 'error',
    });
    const key = 'incoming/stripe/bundle-check.csv';
    const body = stripeCsv([
      {
        kind: 'payment',
        transactionId: 'pi_bundle1',
        currency: 'USD',
        grossMinor: 1999,
        feeMinor: 88,
        at: '2026-11-23T01:00:00.000Z',
      },
    ]);
    const put = await r.s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: key, Body: body }));
    const event = {
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: r.bucket },
            object: { key: encodeS3EventKey(key), ...(put.VersionId ? { versionId: put.VersionId } : {}) },
          },
        },
      ],
    };
    const script = `const m = await import(${JSON.stringify(reconcileBundle)});
const out = await m.handler(JSON.parse(process.env.EVENT), { getRemainingTimeInMillis: () => 60000 });
process.stdout.write(JSON.stringify(out));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        ...r.envFor('reconcile'),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        EVENT: JSON.stringify(event),
      },
    });
    const [run] = JSON.parse(stdout) as { outcome: string; reportPrefix: string }[];
    expect(run).toMatchObject({ outcome: 'reported', reportPrefix: 'reports/stripe/bundle-check/' });
    const summary = await r.s3.send(
      new GetObjectCommand({ Bucket: r.bucket, Key: `${run!.reportPrefix}summary.json` }),
    );
    const parsed = JSON.parse(await summary.Body!.transformToString()) as { rows: { total: number } };
    expect(parsed.rows.total).toBe(1);
  }, 120_000);
});

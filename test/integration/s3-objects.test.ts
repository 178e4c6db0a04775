/**
 * The functions' S3 adapter (functions/adapters/s3-objects.ts) against s3rver, directly and through the
 * sandbox's IAM proxy with a function's own key: what it writes the SDK client reads back byte for
 * byte (keys with characters SigV4 encodes), and its errors carry the names and statuses the SDK's
 * do. The only stub is the server that answers 503: s3rver cannot be made to fail.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore, type S3ServiceError } from '../../functions/adapters/s3-objects.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';

let r: TestResources;
beforeAll(async () => {
  r = await createTestResources();
}, 60_000);

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (error) {
    const e = error as S3ServiceError;
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

describe('S3 adapter', () => {
  it('puts and gets keys with spaces, plus signs, reserved and non-ASCII characters; the SDK agrees', async () => {
    const s3 = createObjectStore({ S3_ENDPOINT: r.s3Endpoint });
    for (const key of [
      'incoming/stripe/a b+c.csv',
      "reports/x/it's (1)*!.csv",
      'incoming/alipay/账单 2026.csv',
    ]) {
      const text = `id,amount\n${key},100\n`;
      await s3.putObject({ Bucket: r.bucket, Key: key, Body: text, ContentType: 'text/csv' });
      const viaSdk = await r.s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: key }));
      expect(await viaSdk.Body!.transformToString(), key).toBe(text);
      expect(viaSdk.ContentType, key).toBe('text/csv');

      const got = await s3.getObject({ Bucket: r.bucket, Key: key });
      const chunks: Buffer[] = [];
      for await (const c of got.Body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString('utf8'), key).toBe(text);
      expect(got.ETag, key).toBe(viaSdk.ETag);
    }
  });

  it('reads what the SDK wrote, with its ETag', async () => {
    const key = 'incoming/stripe/sdk-written.csv';
    const put = await r.s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: key, Body: 'a,b\n1,2\n' }));
    const got = await createObjectStore({ S3_ENDPOINT: r.s3Endpoint }).getObject({
      Bucket: r.bucket,
      Key: key,
    });
    got.Body.resume();
    expect(got.ETag).toBe(put.ETag);
  });

  it('names errors as S3 does: NoSuchKey 404, AccessDenied 403 from the IAM proxy', async () => {
    const direct = createObjectStore({ S3_ENDPOINT: r.s3Endpoint });
    expect(await failure(direct.getObject({ Bucket: r.bucket, Key: 'incoming/stripe/none.csv' }))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    });

    // reconcile may read incoming/ and write reports/, nothing else.
    const reconcile = createObjectStore(r.envFor('reconcile'));
    const before = r.iam.denials.length;
    expect(
      await failure(reconcile.putObject({ Bucket: r.bucket, Key: 'incoming/stripe/forged.csv', Body: 'x' })),
    ).toEqual({ name: 'AccessDenied', status: 403 });
    // Not retried: a denial is final.
    expect(r.iam.denials.length - before).toBe(1);
    await reconcile.putObject({ Bucket: r.bucket, Key: 'reports/s3-objects/ok.txt', Body: 'ok' });
  });

  describe('a server that answers 503 SlowDown', () => {
    let server: Server;
    let requests = 0;
    let failFirst = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        requests++;
        req.resume();
        if (requests <= failFirst) {
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end(
            '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>',
          );
        } else {
          res.writeHead(200, { etag: '"abc"' });
          res.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const endpoint = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    it('retries it, up to three attempts, then fails with its code', async () => {
      const s3 = createObjectStore({ S3_ENDPOINT: endpoint() });
      requests = 0;
      failFirst = 2;
      await s3.putObject({ Bucket: 'b', Key: 'k', Body: 'x' });
      expect(requests).toBe(3);

      requests = 0;
      failFirst = 10;
      expect(await failure(s3.putObject({ Bucket: 'b', Key: 'k', Body: 'x' }))).toEqual({
        name: 'SlowDown',
        status: 503,
      });
      expect(requests).toBe(3);
    });
  });
});

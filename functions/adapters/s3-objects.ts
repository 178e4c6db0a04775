/**
 * The S3 object operations the functions use (GetObject, PutObject and the multipart upload), signed
 * with SigV4 by `@smithy/signature-v4` and sent with Node's `http`/`https`, instead of
 * `@aws-sdk/client-s3`.
 *
 * Why: issue 15's budget of 400 KB per minified bundle. The S3 client pulls in its whole schema module
 * (~65 KB that esbuild cannot tree-shake: computed property keys), its endpoint rules (~18 KB), the
 * REST-XML protocol, the S3 middleware and the checksum code. Measured (`npm run bench -- --only
 * bundles`): reconcile 523.8 → 369.2 KB, openItems 385.2 → 227.2 KB, openItemsDaily 401.3 → 248.2 KB.
 * The signer is already in every bundle through the DynamoDB client.
 *
 * What it keeps of the SDK's behaviour: path-style addressing against `S3_ENDPOINT` (s3rver, behind the
 * sandbox's IAM proxy), virtual-hosted addressing in AWS (path-style for bucket names with dots, as the
 * SDK does), the error's `name` as S3's `<Code>` (`NoSuchKey`, `AccessDenied`, …) with
 * `$metadata.httpStatusCode`, and three attempts for 5xx, throttling and network faults. No checksums
 * beyond SigV4's payload hash, as the SDK client was configured (`WHEN_REQUIRED`). Tooling (sandbox,
 * tests, CLIs) keeps the SDK client (`createS3Client`), which it uses for bucket operations too.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Env } from '../shared/config.ts';
import {
  AwsServiceError,
  environmentCredentials,
  regionalHost,
  Sha256,
  withAttempts,
} from './aws-signing.ts';

/** The port the settlement and open-items adapters write through. */
export interface ObjectStore {
  getObject(input: { Bucket: string; Key: string; VersionId?: string }): Promise<{
    Body: Readable;
    ETag?: string;
    VersionId?: string;
  }>;
  putObject(input: {
    Bucket: string;
    Key: string;
    Body: string | Buffer;
    ContentType?: string;
  }): Promise<void>;
  createMultipartUpload(input: {
    Bucket: string;
    Key: string;
    ContentType?: string;
  }): Promise<{ UploadId: string }>;
  uploadPart(input: {
    Bucket: string;
    Key: string;
    UploadId: string;
    PartNumber: number;
    Body: Buffer;
  }): Promise<{ ETag: string }>;
  completeMultipartUpload(input: {
    Bucket: string;
    Key: string;
    UploadId: string;
    Parts: { ETag: string; PartNumber: number }[];
  }): Promise<void>;
  abortMultipartUpload(input: { Bucket: string; Key: string; UploadId: string }): Promise<void>;
}

/** An S3 error answer: `name` is its `<Code>` (NoSuchKey, AccessDenied, SlowDown…). */
export type S3ServiceError = AwsServiceError;

const s3Error = (code: string, message: string, status: number) =>
  new AwsServiceError(
    code,
    message,
    status,
    status >= 500 || code === 'SlowDown' || code === 'RequestTimeout',
  );

/** RFC 3986 encoding of one path segment, as SigV4 and the SDK encode object keys. */
const encodeSegment = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const xmlUnescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

const xmlTag = (xml: string, tag: string) => {
  const m = xml.match(new RegExp(`<${tag}>([^<]*)</${tag}>`));
  return m ? xmlUnescape(m[1]!) : undefined;
};

type Response = { status: number; headers: http.IncomingHttpHeaders; body: http.IncomingMessage };

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export class S3Objects implements ObjectStore {
  private readonly signer: SignatureV4;
  private readonly agent: http.Agent;

  constructor(
    private readonly options: {
      region: string;
      credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
      /** Path-style against this endpoint (s3rver); virtual-hosted AWS endpoints without it. */
      endpoint?: string;
    },
  ) {
    this.signer = new SignatureV4({
      service: 's3',
      region: options.region,
      credentials: options.credentials,
      sha256: Sha256,
      // S3 signs the path as sent: keys are encoded once, here.
      uriEscapePath: false,
      applyChecksum: true,
    });
    const secure = options.endpoint ? new URL(options.endpoint).protocol === 'https:' : true;
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  private target(bucket: string, key: string) {
    const path = `/${key.split('/').map(encodeSegment).join('/')}`;
    if (this.options.endpoint) {
      const url = new URL(this.options.endpoint);
      return {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: `/${encodeSegment(bucket)}${path}`,
      };
    }
    const regional = regionalHost('s3', this.options.region);
    // A bucket name with dots breaks the wildcard TLS certificate of virtual-hosted addressing.
    return bucket.includes('.')
      ? { protocol: 'https:', hostname: regional, port: undefined, path: `/${encodeSegment(bucket)}${path}` }
      : { protocol: 'https:', hostname: `${bucket}.${regional}`, port: undefined, path };
  }

  private async send(
    method: string,
    bucket: string,
    key: string,
    query: Record<string, string>,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Response> {
    const t = this.target(bucket, key);
    const host = t.port ? `${t.hostname}:${t.port}` : t.hostname;
    return withAttempts(async () => {
      const signed = await this.signer.sign({
        method,
        protocol: t.protocol,
        hostname: t.hostname,
        port: t.port,
        path: t.path,
        query,
        headers: {
          ...headers,
          host,
          ...(body || method === 'PUT' || method === 'POST'
            ? { 'content-length': String(body?.length ?? 0) }
            : {}),
        },
        body,
      });
      const search = new URLSearchParams(query).toString().replace(/\+/g, '%20');
      const res = await new Promise<Response>((resolve, reject) => {
        const req = (t.protocol === 'https:' ? https : http).request(
          {
            method,
            protocol: t.protocol,
            hostname: t.hostname,
            port: t.port,
            path: search ? `${t.path}?${search}` : t.path,
            headers: signed.headers,
            agent: this.agent,
          },
          (r) => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: r }),
        );
        req.on('error', reject);
        req.end(body);
      });
      if (res.status < 300) return res;
      const text = await readText(res.body).catch(() => '');
      throw s3Error(xmlTag(text, 'Code') ?? '', xmlTag(text, 'Message') ?? '', res.status);
    });
  }

  async getObject(input: { Bucket: string; Key: string; VersionId?: string }) {
    const res = await this.send(
      'GET',
      input.Bucket,
      input.Key,
      input.VersionId ? { versionId: input.VersionId } : {},
      {},
    );
    const header = (name: string) => {
      const v = res.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    return { Body: res.body as Readable, ETag: header('etag'), VersionId: header('x-amz-version-id') };
  }

  async putObject(input: { Bucket: string; Key: string; Body: string | Buffer; ContentType?: string }) {
    const body = typeof input.Body === 'string' ? Buffer.from(input.Body, 'utf8') : input.Body;
    const res = await this.send(
      'PUT',
      input.Bucket,
      input.Key,
      {},
      input.ContentType ? { 'content-type': input.ContentType } : {},
      body,
    );
    res.body.resume();
  }

  async createMultipartUpload(input: { Bucket: string; Key: string; ContentType?: string }) {
    const res = await this.send(
      'POST',
      input.Bucket,
      input.Key,
      { uploads: '' },
      input.ContentType ? { 'content-type': input.ContentType } : {},
    );
    const uploadId = xmlTag(await readText(res.body), 'UploadId');
    if (!uploadId) throw s3Error('InvalidResponse', 'no UploadId in the response', res.status);
    return { UploadId: uploadId };
  }

  async uploadPart(input: {
    Bucket: string;
    Key: string;
    UploadId: string;
    PartNumber: number;
    Body: Buffer;
  }) {
    const res = await this.send(
      'PUT',
      input.Bucket,
      input.Key,
      { partNumber: String(input.PartNumber), uploadId: input.UploadId },
      {},
      input.Body,
    );
    res.body.resume();
    const etag = res.headers.etag;
    if (typeof etag !== 'string') throw s3Error('InvalidResponse', 'no ETag for the part', res.status);
    return { ETag: etag };
  }

  async completeMultipartUpload(input: {
    Bucket: string;
    Key: string;
    UploadId: string;
    Parts: { ETag: string; PartNumber: number }[];
  }) {
    const parts = input.Parts.map(
      (p) => `<Part><ETag>${xmlEscape(p.ETag)}</ETag><PartNumber>${p.PartNumber}</PartNumber></Part>`,
    ).join('');
    const xml = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts}</CompleteMultipartUpload>`;
    const res = await this.send(
      'POST',
      input.Bucket,
      input.Key,
      { uploadId: input.UploadId },
      { 'content-type': 'application/xml' },
      Buffer.from(xml, 'utf8'),
    );
    // S3 may answer 200 and still report a failure in the body (the SDK throws then, too).
    const text = await readText(res.body);
    if (/<Error>/.test(text)) {
      throw s3Error(xmlTag(text, 'Code') ?? '', xmlTag(text, 'Message') ?? '', res.status);
    }
  }

  async abortMultipartUpload(input: { Bucket: string; Key: string; UploadId: string }) {
    const res = await this.send('DELETE', input.Bucket, input.Key, { uploadId: input.UploadId }, {});
    res.body.resume();
  }
}

/**
 * The functions' S3: `S3_ENDPOINT` (the sandbox's proxy or s3rver) with the function's own keys or
 * s3rver's `S3RVER`; in AWS the execution role's credentials from the environment.
 */
export function createObjectStore(env: Env = process.env): ObjectStore {
  const endpoint = env.S3_ENDPOINT;
  const fallback = endpoint ? 'S3RVER' : undefined;
  return new S3Objects({
    region: env.AWS_REGION ?? 'us-east-1',
    endpoint,
    credentials: environmentCredentials(env, { fallback, local: Boolean(endpoint) }),
  });
}

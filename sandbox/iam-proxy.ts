/**
 * An authorising proxy in front of DynamoDB Local and s3rver: the endpoint every sandboxed function is
 * given. It identifies the calling function by the access key id in its SigV4 `Authorization` header,
 * breaks the call into the (action, resource) pairs IAM would evaluate, asks sandbox/iam.ts, and either
 * forwards the request untouched or answers as AWS does: DynamoDB 400 `AccessDeniedException`, S3 403
 * `AccessDenied`.
 *
 * Why a proxy and not SDK middleware: it sees the bytes on the wire, so it checks every call whatever
 * client made it (our adapters, Powertools' idempotency layer, a library added later) and whatever the
 * SDK does to a command (document-client marshalling, pagination, batch splitting), as IAM does.
 * Operators, tests and CLIs keep talking to the servers directly with their own keys: they play the
 * account's administrator.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessRequest, Denial, SandboxIam } from './iam.ts';

export interface IamProxy {
  /** Give these to functions as `DYNAMODB_ENDPOINT` / `S3_ENDPOINT`. */
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** Every refusal so far, newest last (the sandbox logs them; tests assert on them). */
  readonly denials: readonly (Denial & { readonly functionId: string })[];
  stop(): Promise<void>;
}

/** The access key id of a SigV4-signed request (header or presigned query), if any. */
export function accessKeyIdOf(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const auth = headers.authorization;
  const fromHeader = typeof auth === 'string' ? /Credential=([^/,\s]+)\//.exec(auth)?.[1] : undefined;
  return fromHeader ?? url.searchParams.get('X-Amz-Credential')?.split('/')[0];
}

/** `arn:aws:dynamodb:…:table/name` is accepted wherever a table name is; IAM sees the table. */
function tableName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)/.exec(value)?.[1] ?? value;
}

type Json = Record<string, unknown>;

const TRANSACT_WRITE_ACTIONS: readonly [string, string][] = [
  ['Put', 'PutItem'],
  ['Update', 'UpdateItem'],
  ['Delete', 'DeleteItem'],
  ['ConditionCheck', 'ConditionCheckItem'],
];

/**
 * The authorisations one DynamoDB API call needs (Service Authorization Reference, DynamoDB): a
 * transaction needs each item's own action on its table (there is no `TransactWriteItems` IAM action);
 * a batch needs the batch action on every table it names; Query and Scan of an index need the index ARN.
 */
export function dynamoAccessRequests(operation: string, body: Json): AccessRequest[] {
  const single = (action: string, table: unknown, index?: unknown): AccessRequest => ({
    service: 'dynamodb',
    action,
    ...(tableName(table) !== undefined ? { table: tableName(table)! } : {}),
    ...(typeof index === 'string' ? { index } : {}),
  });
  switch (operation) {
    case 'Query':
    case 'Scan':
      return [single(operation, body.TableName, body.IndexName)];
    case 'BatchGetItem':
    case 'BatchWriteItem': {
      const tables = Object.keys((body.RequestItems as Json | undefined) ?? {});
      return tables.length ? tables.map((t) => single(operation, t)) : [single(operation, undefined)];
    }
    case 'TransactWriteItems': {
      const items = (body.TransactItems as Json[] | undefined) ?? [];
      return items.map((item) => {
        const found = TRANSACT_WRITE_ACTIONS.find(([field]) => item[field] !== undefined);
        const [field, action] = found ?? ['?', 'TransactWriteItems'];
        return single(action, (item[field] as Json | undefined)?.TableName);
      });
    }
    case 'TransactGetItems':
      return ((body.TransactItems as Json[] | undefined) ?? []).map((item) =>
        single('GetItem', (item.Get as Json | undefined)?.TableName),
      );
    default:
      // GetItem, PutItem, UpdateItem, DeleteItem — and anything else (DescribeTable, PartiQL…), which no
      // topology entry can grant, so it is refused with its own action name.
      return [single(operation, body.TableName)];
  }
}

/**
 * The authorisations one path-style S3 request needs (Service Authorization Reference, Amazon S3):
 * object reads are `GetObject` (`GetObjectVersion` with a version id; HEAD included), every write of an
 * object or a part is `PutObject`, a copy also reads its source.
 */
export function s3AccessRequests(method: string, url: URL, headers: IncomingHttpHeaders): AccessRequest[] {
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  const q = url.searchParams;
  const of = (action: string, b = decodeURIComponent(bucket), k = key): AccessRequest => ({
    service: 's3',
    action,
    bucket: b,
    ...(k !== undefined && k !== '' ? { key: k } : {}),
  });
  if (key === undefined || key === '') {
    const bucketAction: Record<string, string> = {
      GET: 'ListBucket',
      HEAD: 'ListBucket',
      PUT: 'CreateBucket',
      DELETE: 'DeleteBucket',
      POST: 'DeleteObject',
    };
    return [of(bucketAction[method] ?? method)];
  }
  if (method === 'GET' || method === 'HEAD') {
    if (q.has('acl')) return [of('GetObjectAcl')];
    if (q.has('tagging')) return [of('GetObjectTagging')];
    return [of(q.has('versionId') ? 'GetObjectVersion' : 'GetObject')];
  }
  if (method === 'PUT' || method === 'POST') {
    if (q.has('acl')) return [of('PutObjectAcl')];
    if (q.has('tagging')) return [of('PutObjectTagging')];
    const out = [of('PutObject')];
    const source = headers['x-amz-copy-source'];
    if (typeof source === 'string') {
      const [path = '', query = ''] = decodeURIComponent(source).split('?');
      const [srcBucket = '', ...srcKey] = path.replace(/^\//, '').split('/');
      const versioned = new URLSearchParams(query).has('versionId');
      out.push(of(versioned ? 'GetObjectVersion' : 'GetObject', srcBucket, srcKey.join('/')));
    }
    return out;
  }
  if (method === 'DELETE') {
    if (q.has('uploadId')) return [of('AbortMultipartUpload')];
    return [of(q.has('versionId') ? 'DeleteObjectVersion' : 'DeleteObject')];
  }
  return [of(method)];
}

function forward(
  agent: http.Agent,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: URL,
  body: Buffer | undefined,
  headers: IncomingHttpHeaders,
): void {
  const out = { ...headers, host: upstream.host };
  // The proxy already answered `100 Continue` to the client; the upstream gets the body straight away.
  delete out.expect;
  const request = http.request(
    {
      agent,
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: out,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  request.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`sandbox IAM proxy: upstream failed: ${error.message}`);
  });
  if (body) request.end(body);
  else req.pipe(request);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function dynamoError(res: ServerResponse, type: string, message: string): void {
  const requestId = randomUUID();
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-errortype': type,
    'x-amzn-requestid': requestId,
  });
  res.end(JSON.stringify({ __type: `com.amazon.coral.service#${type}`, Message: message }));
}

function s3Error(
  res: ServerResponse,
  method: string | undefined,
  status: number,
  code: string,
  message: string,
) {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId });
  // A HEAD answer has no body: the SDK reports the status code only, as against AWS.
  if (method === 'HEAD') return void res.end();
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escaped}</Message><RequestId>${requestId}</RequestId><HostId>sandbox</HostId></Error>`,
  );
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // A test file's proxy lives as long as its worker; it must not keep the process alive on its own.
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** s3rver checks that the access key id is its own but verifies no SigV4 signature (its authentication.js). */
const S3RVER_KEY = 'S3RVER';

export async function startIamProxy(options: {
  iam: SandboxIam;
  /** DynamoDB Local (or any DynamoDB endpoint) to forward allowed calls to. */
  dynamodb: string;
  /** s3rver to forward allowed calls to. */
  s3: string;
  log?: (line: string) => void;
}): Promise<IamProxy> {
  const { iam } = options;
  const dynamoUpstream = new URL(options.dynamodb);
  const s3Upstream = new URL(options.s3);
  const denials: (Denial & { functionId: string })[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const deny = (functionId: string, denial: Denial) => {
    denials.push({ ...denial, functionId });
    if (denials.length > 1000) denials.shift();
    options.log?.(`AccessDenied: ${denial.message}`);
  };

  const dynamo = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const functionId = iam.functionOf(accessKeyIdOf(req.headers, url) ?? '');
      const body = await readBody(req);
      if (!functionId) {
        return dynamoError(
          res,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.split('.').at(-1) ?? '';
      let parsed: Json;
      try {
        parsed = body.length ? (JSON.parse(body.toString('utf8')) as Json) : {};
      } catch {
        return dynamoError(
          res,
          'SerializationException',
          'Start of structure or map found where not expected.',
        );
      }
      for (const request of dynamoAccessRequests(operation, parsed)) {
        const denial = iam.check(functionId, request);
        if (denial) {
          deny(functionId, denial);
          return dynamoError(res, 'AccessDeniedException', denial.message);
        }
      }
      forward(agent, req, res, dynamoUpstream, body, req.headers);
    })().catch((error: unknown) => {
      if (!res.headersSent) dynamoError(res, 'InternalServerError', String(error));
    });
  });

  const s3 = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const key = accessKeyIdOf(req.headers, url);
    const functionId = iam.functionOf(key ?? '');
    if (!functionId) {
      req.resume();
      return s3Error(
        res,
        req.method,
        403,
        key ? 'InvalidAccessKeyId' : 'AccessDenied',
        key ? 'The AWS Access Key Id you provided does not exist in our records.' : 'Access Denied',
      );
    }
    for (const request of s3AccessRequests(req.method ?? 'GET', url, req.headers)) {
      const denial = iam.check(functionId, request);
      if (denial) {
        deny(functionId, denial);
        req.resume();
        return s3Error(res, req.method, 403, 'AccessDenied', denial.message);
      }
    }
    const headers = { ...req.headers };
    if (typeof headers.authorization === 'string') {
      headers.authorization = headers.authorization.replace(
        /Credential=[^/,\s]+\//,
        `Credential=${S3RVER_KEY}/`,
      );
    }
    forward(agent, req, res, s3Upstream, undefined, headers);
  });

  const [dynamodbEndpoint, s3Endpoint] = await Promise.all([listen(dynamo), listen(s3)]);
  const close = (server: http.Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    dynamodbEndpoint,
    s3Endpoint,
    denials,
    stop: async () => {
      await Promise.all([close(dynamo), close(s3)]);
      agent.destroy();
    },
  };
}

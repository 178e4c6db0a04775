/**
 * An HTTP server shaped like API Gateway HTTP API (payload format 2.0): each request becomes the event
 * AWS would build, with the raw body kept byte-exact (base64 when it is not valid UTF-8), and the
 * handler's structured result becomes the response.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpMethod, RouteDef } from '../lib/topology.ts';

export type Invoke = (event: APIGatewayProxyEventV2) => Promise<unknown>;

export interface LocalRoute {
  readonly method: HttpMethod | 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly invoke: Invoke;
  /** `iam` routes carry the caller in `requestContext.authorizer.iam`, as AWS_IAM authorisation does. */
  readonly auth?: RouteDef['auth'];
}

/**
 * The one caller of the sandbox's IAM-authorised routes (the sandbox checks no SigV4 on them): what
 * API Gateway puts in `requestContext.authorizer.iam` for a signed request, for a fixed identity. Its
 * principal is plain `sandbox`, the name audit trails give sandbox changes (CONTRACT §5, open items).
 */
export const SANDBOX_CALLER = {
  accessKey: 'SANDBOXCALLER',
  accountId: '000000000000',
  callerId: 'SANDBOXCALLER',
  cognitoIdentity: null,
  principalOrgId: null,
  userArn: 'sandbox',
  userId: 'SANDBOXCALLER',
};

interface CompiledRoute extends LocalRoute {
  readonly pattern: RegExp;
  readonly params: string[];
  readonly routeKey: string;
}

/** HTTP APIs reject larger payloads before the function runs; the handlers check 256 KB themselves. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function compile(route: LocalRoute): CompiledRoute {
  const params: string[] = [];
  const pattern = new RegExp(
    `^${route.path
      .split('/')
      .map((segment) => {
        const m = /^\{(\w+)\}$/.exec(segment);
        if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        params.push(m[1]!);
        return '([^/]+)';
      })
      .join('/')}$`,
  );
  return { ...route, pattern, params, routeKey: `${route.method} ${route.path}` };
}

function isUtf8(buffer: Buffer): boolean {
  return Buffer.from(buffer.toString('utf8'), 'utf8').equals(buffer);
}

export function toEvent(
  req: http.IncomingMessage,
  body: Buffer,
  route: CompiledRoute,
  pathParameters: Record<string, string>,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = Date.now();
  const text = body.length === 0 || isUtf8(body);
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(route.params.length ? { pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'sandbox',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'sandbox',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      ...(route.auth === 'iam' ? { authorizer: { iam: SANDBOX_CALLER } } : {}),
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !text,
  };
}

function send(res: http.ServerResponse, result: unknown): void {
  // HTTP APIs accept a bare object or string as a 200 JSON response; we always return structured results.
  const structured: APIGatewayProxyStructuredResultV2 =
    result && typeof result === 'object' && 'statusCode' in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(structured.headers ?? {})) headers[k] = String(v);
  const body = structured.body
    ? structured.isBase64Encoded
      ? Buffer.from(structured.body, 'base64')
      : Buffer.from(structured.body, 'utf8')
    : Buffer.alloc(0);
  res.writeHead(structured.statusCode ?? 200, headers);
  res.end(body);
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

export function routesFromTopology(
  routes: readonly RouteDef[],
  invokeFunction: (name: string) => Invoke,
): LocalRoute[] {
  return routes.map((r) => ({
    method: r.method,
    path: r.path,
    auth: r.auth,
    invoke: invokeFunction(r.function),
  }));
}

export async function startApiServer(options: {
  port: number;
  routes: readonly LocalRoute[];
  onError?: (error: unknown) => void;
}): Promise<ApiServer> {
  const compiled = options.routes.map(compile);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const candidates = compiled.filter((r) => r.pattern.test(url.pathname));
      const route = candidates.find((r) => r.method === req.method);
      if (!route) {
        // API Gateway's own answer for a route that does not exist.
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Not Found' }));
        return;
      }
      const match = route.pattern.exec(url.pathname)!;
      const params = Object.fromEntries(route.params.map((p, i) => [p, decodeURIComponent(match[i + 1]!)]));
      try {
        send(res, await route.invoke(toEvent(req, Buffer.concat(chunks), route, params)));
      } catch (error) {
        options.onError?.(error);
        // What API Gateway answers when the function itself fails.
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal Server Error' }));
      }
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

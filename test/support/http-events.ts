/** API Gateway HTTP API (payload 2.0) events and Lambda contexts for invoking handlers in-process. */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { SANDBOX_CALLER } from '../../sandbox/api-gateway.ts';

export function httpEvent(options: {
  method?: string;
  path: string;
  routeKey?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  /**
   * The AWS_IAM caller (`requestContext.authorizer.iam.userArn`) of an orders route; `null` for none.
   * @default the sandbox's fixed caller
   */
  callerArn?: string | null;
}): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const method = options.method ?? 'POST';
  const body = options.body;
  const binary = Buffer.isBuffer(body);
  return {
    version: '2.0',
    routeKey: options.routeKey ?? `${method} ${options.path}`,
    rawPath: options.path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers,
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'test',
      http: { method, path: options.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      ...(options.callerArn === null
        ? {}
        : {
            authorizer: {
              iam: { ...SANDBOX_CALLER, userArn: options.callerArn ?? SANDBOX_CALLER.userArn },
            },
          }),
      requestId: randomUUID(),
      routeKey: options.routeKey ?? `${method} ${options.path}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined ? {} : { body: binary ? body.toString('base64') : body }),
    isBase64Encoded: binary,
  };
}

export function context(timeoutMs = 10_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

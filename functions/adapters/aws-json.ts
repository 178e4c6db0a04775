/**
 * One operation of an AWS JSON-protocol service (`POST /`, `X-Amz-Target`, `application/x-amz-json-1.1`),
 * signed with SigV4 and sent with Node's `https`: what the functions need of EventBridge (`PutEvents`,
 * alerts) and Secrets Manager (`GetSecretValue`, gateway secrets and the FX key), instead of their SDK
 * clients.
 *
 * Why: each SDK client carries its endpoint rule set, schemas and runtime config, evaluated at every
 * cold start for calls made rarely (an alert) or once per five minutes (a secret). Measured with
 * `npm run bench -- --only bundles`: each callback bundle 360.3 → 325.9 KB, without the EventBridge and
 * Secrets Manager clients, Powertools Parameters and the SigV4a signer EventBridge's global endpoints need.
 *
 * What it keeps of the SDK's behaviour: the regional endpoint (`.amazonaws.com.cn` in China), the
 * SDK's service-specific endpoint variables (`AWS_ENDPOINT_URL_EVENTBRIDGE`,
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`: the tests' local servers), the error's `name` as the service's
 * exception type (`ResourceNotFoundException`, …) with `$metadata.httpStatusCode`, and three attempts for
 * 5xx, throttling and network faults.
 */
import http from 'node:http';
import https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  AwsServiceError,
  environmentCredentials,
  regionalHost,
  Sha256,
  withAttempts,
} from './aws-signing.ts';

export { AwsServiceError };

type Env = Readonly<Record<string, string | undefined>>;

export interface AwsJsonService {
  /** SigV4 signing name and endpoint prefix: `events`, `secretsmanager`. */
  readonly name: string;
  /** `X-Amz-Target` prefix: `AWSEvents`, `secretsmanager`. */
  readonly targetPrefix: string;
  /** The SDK's service-specific endpoint variable: `AWS_ENDPOINT_URL_EVENTBRIDGE`. */
  readonly endpointVar: string;
}

export const EVENTBRIDGE: AwsJsonService = {
  name: 'events',
  targetPrefix: 'AWSEvents',
  endpointVar: 'AWS_ENDPOINT_URL_EVENTBRIDGE',
};

export const SECRETS_MANAGER: AwsJsonService = {
  name: 'secretsmanager',
  targetPrefix: 'secretsmanager',
  endpointVar: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
};

/** Calls `operation` of `service` with `input`; the answer is the parsed JSON body. */
export type AwsJsonCall = <T>(operation: string, input: object) => Promise<T>;

export function awsJsonClient(service: AwsJsonService, env: Env = process.env): AwsJsonCall {
  const region = env.AWS_REGION ?? 'us-east-1';
  const url = new URL(env[service.endpointVar] || `https://${regionalHost(service.name, region)}`);
  const local = Boolean(env[service.endpointVar]);
  const signer = new SignatureV4({
    service: service.name,
    region,
    credentials: environmentCredentials(env, { local }),
    sha256: Sha256,
  });
  const transport = url.protocol === 'http:' ? http : https;
  const agent = new transport.Agent({ keepAlive: true });
  const port = url.port ? Number(url.port) : undefined;

  return async <T>(operation: string, input: object): Promise<T> => {
    const body = Buffer.from(JSON.stringify(input), 'utf8');
    return withAttempts(async () => {
      const signed = await signer.sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port,
        path: '/',
        query: {},
        headers: {
          host: url.host,
          'content-type': 'application/x-amz-json-1.1',
          'content-length': String(body.length),
          'x-amz-target': `${service.targetPrefix}.${operation}`,
        },
        body,
      });
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = transport.request(
          {
            method: 'POST',
            protocol: url.protocol,
            hostname: url.hostname,
            port,
            path: '/',
            headers: signed.headers,
            agent,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      const json = parseJson(text);
      if (status < 300) return json as T;
      // `__type` is `[namespace#]ExceptionName`; `message` or `Message` depending on the service.
      const type =
        String(json.__type ?? '')
          .split('#')
          .pop() ?? '';
      throw new AwsServiceError(
        type,
        String(json.message ?? json.Message ?? ''),
        status,
        status >= 500 || /Throttl|TooManyRequests|RequestLimitExceeded/.test(type),
      );
    });
  };
}

function parseJson(text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * What the hand-written AWS calls share (s3-objects.ts, aws-json.ts): SigV4 signing with
 * `@smithy/signature-v4` (already in every bundle through the DynamoDB client), credentials from the
 * environment, regional hosts, and a few attempts for transient faults.
 */
import { createHash, createHmac } from 'node:crypto';

/** The hash constructor `SignatureV4` takes, on Node's crypto. */
export class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret
      ? createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer))
      : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The execution role's credentials from the environment, read when a request is signed (as the SDK's
 * environment provider does: a missing key fails that request, not the cold start). `fallback` is a
 * local emulator's placeholder key; against an emulator no session token is sent.
 */
export function environmentCredentials(
  env: Env,
  options: { fallback?: string; local?: boolean } = {},
): () => Promise<AwsCredentials> {
  return async () => {
    const accessKeyId = env.AWS_ACCESS_KEY_ID ?? options.fallback;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? options.fallback;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error('no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
    }
    const sessionToken = options.local ? undefined : env.AWS_SESSION_TOKEN;
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  };
}

/** `{service}.{region}.amazonaws.com`, or `.amazonaws.com.cn` in the China regions (cn-north-1, cn-northwest-1). */
export function regionalHost(service: string, region: string): string {
  return `${service}.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

/**
 * A service's error answer, named by the service's error code (`NoSuchKey`, `ResourceNotFoundException`,
 * …) as the SDK names its exceptions, with the HTTP status where the SDK keeps it.
 */
export class AwsServiceError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $retryable: boolean;
  constructor(code: string, message: string, status: number, retryable: boolean) {
    super(message || code);
    this.name = 'AwsServiceError';
    Object.defineProperty(this, 'name', { value: code || `Http${status}`, enumerable: false });
    this.$metadata = { httpStatusCode: status };
    this.$retryable = retryable;
  }
}

const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);
const MAX_ATTEMPTS = 3;

/**
 * Runs `send` up to three times while it fails with a retryable service error or a network fault, with
 * full-jitter backoff in between (the SDK's standard retry mode, without its token bucket).
 */
export async function withAttempts<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const retryable =
        error instanceof AwsServiceError
          ? error.$retryable
          : RETRYABLE_NETWORK.has((error as NodeJS.ErrnoException).code ?? '');
      if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
    }
  }
}

/**
 * Reads a secret's value from AWS Secrets Manager (`GetSecretValue`, functions/adapters/aws-json.ts),
 * cached per container for `maxAgeSeconds` so a rotated secret is picked up without a deployment and a
 * busy function does not call Secrets Manager per request. The value is returned, never logged.
 */
import { type AwsJsonCall, awsJsonClient, SECRETS_MANAGER } from './aws-json.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type SecretValue = string | Uint8Array | undefined;

let call: AwsJsonCall | undefined;
const cache = new Map<string, { value: SecretValue; until: number }>();

/** `SecretString`, or `SecretBinary` decoded from its base64, of the secret's current version. */
export async function getSecretValue(
  id: string,
  options: { maxAgeSeconds: number; env?: Env },
): Promise<SecretValue> {
  const hit = cache.get(id);
  if (hit && hit.until > Date.now()) return hit.value;
  call ??= awsJsonClient(SECRETS_MANAGER, options.env);
  const out = await call<{ SecretString?: string; SecretBinary?: string }>('GetSecretValue', {
    SecretId: id,
  });
  const value =
    out.SecretString ??
    (out.SecretBinary === undefined ? undefined : Buffer.from(out.SecretBinary, 'base64'));
  cache.set(id, { value, until: Date.now() + options.maxAgeSeconds * 1000 });
  return value;
}

/** Forgets cached values (tests). */
export function clearSecretCache(): void {
  cache.clear();
  call = undefined;
}

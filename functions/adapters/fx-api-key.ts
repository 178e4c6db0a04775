/**
 * The FX provider's API key: from AWS Secrets Manager (`FX_PROVIDER_SECRET_ID`, set by the stack for
 * `FX_PROVIDER=base-rates`), cached 5 minutes like the gateway secrets
 * (gateway-secret.ts) so a rotated key needs no deployment; or `FX_PROVIDER_API_KEY` in the sandbox, which
 * has no Secrets Manager. The secret holds `{"apiKey":"…"}` or the bare key.
 *
 * The key is returned to the HTTP adapter only: never logged, never in an error message (the errors below
 * name the variable and the secret's id, not its value).
 */
import { FxProviderError } from '../core/fx.ts';
import type { Env } from '../shared/config.ts';
import { getSecretValue } from './secrets-manager.ts';

export type ApiKeySource = () => Promise<string>;

/** Where the key comes from, or undefined when none is configured (the provider then gets no key). */
export function fxApiKeySource(env: Env): ApiKeySource | undefined {
  const direct = env.FX_PROVIDER_API_KEY;
  if (direct) return async () => direct;
  const id = env.FX_PROVIDER_SECRET_ID;
  if (!id) return undefined;
  return async () => {
    let secret: unknown;
    try {
      secret = await getSecretValue(id, { maxAgeSeconds: 300, env });
    } catch {
      throw new FxProviderError('FX provider key could not be read from Secrets Manager', 'network_error');
    }
    const key = keyOf(secret);
    if (!key) {
      throw new FxProviderError(
        'FX provider key not stored yet: put {"apiKey":"…"} in the secret FX_PROVIDER_SECRET_ID names',
        'credentials_missing',
      );
    }
    return key;
  };
}

function keyOf(secret: unknown): string | undefined {
  if (typeof secret !== 'string') return undefined;
  const text = secret.trim();
  if (!text.startsWith('{')) return text || undefined;
  try {
    const value = (JSON.parse(text) as { apiKey?: unknown }).apiKey;
    return typeof value === 'string' && value.trim() ? value.trim() : undefined;
  } catch {
    return undefined;
  }
}

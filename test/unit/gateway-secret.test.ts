/**
 * Regression: a malformed gateway secret put the secret's own text into the error (V8 quotes the JSON
 * around the fault), and so into the logs. Secrets Manager cannot run here, so `getSecretValue` is mocked
 * to hand back the raw string AWS would (its HTTP call: test/integration/aws-json.test.ts).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const getSecretValue = vi.fn();
vi.mock('../../functions/adapters/secrets-manager.ts', () => ({ getSecretValue }));
const { loadGatewaySecret } = await import('../../functions/adapters/gateway-secret.ts');
const { ConfigError } = await import('../../functions/shared/config.ts');

const SECRET = 'whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ';
const malformed = `{"webhookSecret": ${SECRET}}`;

/** Everything an error could print: message, stack, cause chain, own fields. */
function printed(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as (Error & { cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    parts.push(String(e), e.stack ?? '', JSON.stringify(e));
  }
  return parts.join('\n');
}

beforeEach(() => getSecretValue.mockReset());

describe('a malformed gateway secret never shows up in the error', () => {
  it('GATEWAY_SECRET_JSON (sandbox)', async () => {
    const error = (await loadGatewaySecret({ GATEWAY_SECRET_JSON: malformed }, 'stripe').catch(
      (e) => e,
    )) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('GATEWAY_SECRET_JSON: the secret for gateway stripe is not valid JSON');
    expect(printed(error)).not.toContain('whsec_');
  });

  it('GATEWAY_SECRET_ID (AWS): the raw string is fetched and parsed by us', async () => {
    getSecretValue.mockResolvedValue(malformed);
    const error = await loadGatewaySecret({ GATEWAY_SECRET_ID: 'arn:secret' }, 'stripe').catch(
      (e: Error) => e,
    );
    expect(getSecretValue).toHaveBeenCalledWith(
      'arn:secret',
      expect.objectContaining({ maxAgeSeconds: 300 }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(printed(error)).not.toContain('whsec_');
  });

  it('a well-formed secret is returned parsed', async () => {
    getSecretValue.mockResolvedValue(JSON.stringify({ webhookSecret: SECRET }));
    expect(await loadGatewaySecret({ GATEWAY_SECRET_ID: 'arn:secret' }, 'stripe')).toEqual({
      webhookSecret: SECRET,
    });
  });
});

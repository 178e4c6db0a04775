/**
 * A gateway's secret (webhook secrets, keys, certificates) as JSON: from AWS Secrets Manager through
 * Powertools Parameters in AWS (`GATEWAY_SECRET_ID`, cached 5 minutes so rotation needs no deployment),
 * or handed over by the sandbox (`GATEWAY_SECRET_JSON`). Never logged.
 *
 * Imported statically on purpose. A lazy `await import()` was measured: it grows the callback bundle by
 * 12.6 KB (esbuild keeps every export of the Secrets Manager barrel once it sits behind a lazy initialiser),
 * and saves nothing in AWS, where `GATEWAY_SECRET_ID` is always set and the first request needs the client
 * anyway (it would only move the module evaluation out of the CPU-boosted init phase).
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError, type Env } from '../shared/config.ts';

export async function loadGatewaySecret(env: Env, gateway: string): Promise<unknown> {
  if (env.GATEWAY_SECRET_JSON) {
    try {
      return JSON.parse(env.GATEWAY_SECRET_JSON);
    } catch (error) {
      throw new ConfigError(
        `GATEWAY_SECRET_JSON: not valid JSON for gateway ${gateway}`,
        ['GATEWAY_SECRET_JSON'],
        {
          cause: error,
        },
      );
    }
  }
  const id = env.GATEWAY_SECRET_ID;
  if (!id) {
    throw new ConfigError(`GATEWAY_SECRET_ID: is required for gateway ${gateway} (not set)`, [
      'GATEWAY_SECRET_ID',
    ]);
  }
  const secret = await getSecret(id, { transform: 'json', maxAge: 300 });
  if (secret === undefined)
    throw new ConfigError(`GATEWAY_SECRET_ID: secret ${id} is empty`, ['GATEWAY_SECRET_ID']);
  return secret;
}

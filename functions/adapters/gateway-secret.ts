/**
 * A gateway's secret (webhook secrets, keys, certificates) as JSON: from AWS Secrets Manager in AWS
 * (`GATEWAY_SECRET_ID`, cached 5 minutes so rotation needs no deployment), or handed over by the sandbox
 * (`GATEWAY_SECRET_JSON`). Never logged.
 */
import { ConfigError, type Env } from '../shared/config.ts';
import { getSecretValue } from './secrets-manager.ts';

/**
 * Parses a secret's raw text. Neither the message nor a `cause` may carry any of it: V8's JSON errors
 * quote the text around the fault (`Unexpected token 'w', "{"secret": whsec_…" is not valid JSON`), so a
 * malformed secret would end up in the error log. The fault's position is all we report.
 */
export function parseSecretJson(raw: string, source: string, gateway: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new ConfigError(
      `${source}: the secret for gateway ${gateway} is not valid JSON (${raw.length} characters${position ? `, fault at position ${position}` : ''})`,
      [source],
    );
  }
}

export async function loadGatewaySecret(env: Env, gateway: string): Promise<unknown> {
  if (env.GATEWAY_SECRET_JSON !== undefined && env.GATEWAY_SECRET_JSON !== '') {
    return parseSecretJson(env.GATEWAY_SECRET_JSON, 'GATEWAY_SECRET_JSON', gateway);
  }
  const id = env.GATEWAY_SECRET_ID;
  if (!id) {
    throw new ConfigError(`GATEWAY_SECRET_ID: is required for gateway ${gateway} (not set)`, [
      'GATEWAY_SECRET_ID',
    ]);
  }
  // The raw string, parsed here: see parseSecretJson.
  const raw = await getSecretValue(id, { maxAgeSeconds: 300, env });
  if (raw === undefined || raw === '')
    throw new ConfigError(`GATEWAY_SECRET_ID: secret ${id} is empty`, ['GATEWAY_SECRET_ID']);
  if (typeof raw !== 'string') {
    throw new ConfigError(`GATEWAY_SECRET_ID: secret ${id} is binary, expected a JSON string`, [
      'GATEWAY_SECRET_ID',
    ]);
  }
  return parseSecretJson(raw, 'GATEWAY_SECRET_ID', gateway);
}

/**
 * `npm run deploy -- -c fxProvider=…` on the synthesised template: the provider's URL and staleness reach
 * the functions, the rate-age alarm follows the same staleness, and only a keyed provider gets a secret,
 * readable by the two functions that call the provider and by nothing else.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { functions } from '../../lib/topology.ts';
import { type Built, buildStack, logicalId, resourcesOfType } from './build-stack.ts';
import { statementsOfRole } from './iam.ts';

const envOf = (built: Built, id: string) =>
  (
    built.json.Resources[logicalId(built.stack.functions[id]!.fn)]!.Properties!.Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

const rateAgeAlarm = (built: Built) =>
  resourcesOfType(built.json, 'AWS::CloudWatch::Alarm')
    .map(([, r]) => r.Properties!)
    .find((p) => p.MetricName === 'FxRateAgeSeconds')!;

const fxCallers = Object.entries(functions)
  .filter(([, def]) => def.fxProvider)
  .map(([id]) => id);

describe('-c fxProvider', () => {
  it('ecb with no other setting: the ECB URL, a staleness spanning a long weekend, the alarm on the same, no secret', () => {
    const built = buildStack({ fxProvider: 'ecb' });
    expect(fxCallers.sort()).toEqual(['fxRefresh', 'orders']);
    for (const id of fxCallers) {
      expect(envOf(built, id)).toMatchObject({
        FX_PROVIDER: 'ecb',
        FX_PROVIDER_URL: 'https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml',
        FX_MAX_AGE_SECONDS: '453600',
        FX_LIVE_CACHE_SECONDS: '60',
        FX_MAX_DAILY_DRIFT: '0.15',
      });
      expect(envOf(built, id)).not.toHaveProperty('FX_PROVIDER_SECRET_ID');
      // Plain http to loopback is a sandbox-only switch.
      expect(envOf(built, id)).not.toHaveProperty('FX_PROVIDER_ALLOW_LOOPBACK_HTTP');
    }
    expect(rateAgeAlarm(built)).toMatchObject({ Threshold: 453600 });
    built.template.resourceCountIs('AWS::SecretsManager::Secret', 5); // the gateways' only
    expect(built.nag().success).toBe(true);
  });

  it('base-rates: Open Exchange Rates by default, a key secret readable by the FX callers only', () => {
    const built = buildStack({ fxProvider: 'base-rates' });
    const secret = built.stack.fxProviderSecret!;
    expect(secret).toBeDefined();
    built.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'daigou/fx-provider',
      // A generated placeholder: no key in the template.
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'placeholder',
        SecretStringTemplate: JSON.stringify({ provider: 'base-rates' }),
      }),
    });
    for (const [id, fn] of Object.entries(built.stack.functions)) {
      const env = envOf(built, id);
      const statements = statementsOfRole(built.json, logicalId(fn.role));
      const readsSecret = statements.some(
        (s) =>
          JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue') &&
          JSON.stringify(s.Resource).includes(logicalId(secret)),
      );
      if (fxCallers.includes(id)) {
        expect(env).toMatchObject({
          FX_PROVIDER: 'base-rates',
          FX_PROVIDER_URL: 'https://openexchangerates.org/api/latest.json',
          FX_MAX_AGE_SECONDS: '4500',
          FX_PROVIDER_SECRET_ID: { Ref: logicalId(secret) },
        });
        expect(readsSecret).toBe(true);
      } else {
        expect(env).not.toHaveProperty('FX_PROVIDER_SECRET_ID');
        expect(readsSecret).toBe(false);
      }
    }
    expect(rateAgeAlarm(built)).toMatchObject({ Threshold: 4500 });
  });

  it('pairs (the default) keeps the placeholder and 20 minutes; fxProviderUrl and fxMaxAgeSeconds override', () => {
    expect(envOf(buildStack(), 'orders')).toMatchObject({ FX_PROVIDER: 'pairs', FX_MAX_AGE_SECONDS: '1200' });
    const built = buildStack({
      fxProvider: 'base-rates',
      fxProviderUrl: 'https://data.fixer.io/api/latest',
      fxProviderKeyIn: 'query:access_key',
      fxMaxAgeSeconds: '7200',
    });
    expect(envOf(built, 'fxRefresh')).toMatchObject({
      FX_PROVIDER_URL: 'https://data.fixer.io/api/latest',
      FX_PROVIDER_KEY_IN: 'query:access_key',
      FX_MAX_AGE_SECONDS: '7200',
    });
    expect(rateAgeAlarm(built)).toMatchObject({ Threshold: 7200 });
  });

  it('refuses an unknown provider or a non-https URL at synth', () => {
    expect(() => buildStack({ fxProvider: 'yahoo' })).toThrow(/not one of pairs, base-rates, ecb/);
    expect(() => buildStack({ fxProvider: 'ecb', fxProviderUrl: 'http://example.com/x.xml' })).toThrow(
      /https/,
    );
  });
});

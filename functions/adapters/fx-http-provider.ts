/**
 * The FX provider port over HTTP(S): `GET {FX_PROVIDER_URL}`, read as the format `FX_PROVIDER` names
 * (functions/core/fx-formats.ts keeps each format's documented facts). The transport is as strict as the
 * answer: https only (plain http to a loopback host only where `FX_PROVIDER_ALLOW_LOOPBACK_HTTP=true`,
 * which the sandbox sets and the AWS stack never does), redirects refused (a redirect could lead the API key
 * or the price to another host), the body capped at 1 MB, one timeout over headers and body.
 *
 * The API key is sent the way the provider documents it (`FX_PROVIDER_KEY_IN`), and appears in no error
 * message, log line or history record: errors name the reason, never the URL.
 */
import * as z from 'zod/mini';
import { defaultSettings, fxProviderDefaults } from '../../lib/settings.ts';
import { type FxProvider, FxProviderError, type FxQuote } from '../core/fx.ts';
import {
  BASE_RATES_DEFAULT_PATHS,
  FX_PROVIDERS,
  type FxProviderKind,
  type JsonPaths,
  PAIRS_DEFAULT_PATHS,
  parseBaseRatesAnswer,
  parseEcbAnswer,
  parsePairsAnswer,
} from '../core/fx-formats.ts';
import { ConfigError, type Env } from '../shared/config.ts';
import { type ApiKeySource, fxApiKeySource } from './fx-api-key.ts';

/** No FX answer we read is near this size (ECB ~2 KB, OXR ~6 KB); anything bigger is refused unread. */
export const MAX_FX_BODY_BYTES = 1_048_576;

/** How the key travels: OXR's `Authorization: Token …` header, another header, or a query parameter (Fixer). */
export type KeyPlacement =
  | { readonly in: 'header'; readonly name: string; readonly prefix: string }
  | { readonly in: 'query'; readonly name: string };

export interface HttpFxProviderOptions {
  readonly url: string;
  readonly kind: FxProviderKind;
  readonly paths: JsonPaths;
  /** First retry waits this long, doubling after each failed attempt. */
  readonly backoffMs: number;
  /** Absent: no key is sent. */
  readonly apiKey?: ApiKeySource;
  readonly keyIn: KeyPlacement;
  readonly maxBodyBytes?: number;
  /** Injected in tests; `globalThis.fetch` otherwise. */
  readonly fetch?: typeof fetch;
  readonly now?: () => Date;
}

const optionalText = () => z.optional(z.string().check(z.minLength(1, 'must not be empty')));

/** Environment settings of the provider, shared by the orders and fx-refresh configs. */
export const fxProviderEnv = {
  FX_PROVIDER: z._default(z.enum(FX_PROVIDERS), defaultSettings.FX_PROVIDER as FxProviderKind),
  /** Default: the provider kind's documented URL (lib/settings.ts fxProviderDefaults). */
  FX_PROVIDER_URL: z.optional(z.string().check(z.url('must be a URL'))),
  FX_PROVIDER_RATES_PATH: optionalText(),
  FX_PROVIDER_AS_OF_PATH: optionalText(),
  FX_PROVIDER_SOURCE_PATH: optionalText(),
  FX_PROVIDER_BASE_PATH: optionalText(),
  FX_PROVIDER_KEY_IN: z._default(
    z
      .string()
      .check(
        z.regex(
          /^(header|header:[A-Za-z0-9-]+|query:[A-Za-z0-9_.-]+)$/,
          'must be "header", "header:<Name>" or "query:<name>"',
        ),
      ),
    'header',
  ),
  FX_PROVIDER_ALLOW_LOOPBACK_HTTP: z.optional(z.enum(['true', 'false'])),
};

export interface FxProviderConfig {
  FX_PROVIDER: FxProviderKind;
  FX_PROVIDER_URL?: string | undefined;
  FX_PROVIDER_RATES_PATH?: string | undefined;
  FX_PROVIDER_AS_OF_PATH?: string | undefined;
  FX_PROVIDER_SOURCE_PATH?: string | undefined;
  FX_PROVIDER_BASE_PATH?: string | undefined;
  FX_PROVIDER_KEY_IN: string;
  FX_PROVIDER_ALLOW_LOOPBACK_HTTP?: 'true' | 'false' | undefined;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The provider URL after the https rule; throws ConfigError naming FX_PROVIDER_URL. */
export function providerUrl(config: FxProviderConfig): string {
  const url = new URL(config.FX_PROVIDER_URL ?? fxProviderDefaults[config.FX_PROVIDER].FX_PROVIDER_URL);
  const loopbackHttp =
    url.protocol === 'http:' &&
    LOOPBACK.has(url.hostname) &&
    config.FX_PROVIDER_ALLOW_LOOPBACK_HTTP === 'true';
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw new ConfigError(
      'invalid configuration: FX_PROVIDER_URL: must be an https URL (plain http only to a loopback host in the sandbox)',
      ['FX_PROVIDER_URL'],
    );
  }
  if (url.username || url.password) {
    throw new ConfigError('invalid configuration: FX_PROVIDER_URL: must not carry credentials', [
      'FX_PROVIDER_URL',
    ]);
  }
  return url.toString();
}

function keyPlacement(value: string): KeyPlacement {
  if (value === 'header') return { in: 'header', name: 'Authorization', prefix: 'Token ' };
  const [where, name = ''] = value.split(':');
  return where === 'query' ? { in: 'query', name } : { in: 'header', name, prefix: '' };
}

/** The provider as configured by the `fxProviderEnv` variables (orders and FX refresh alike). */
export function httpFxProviderFromConfig(
  config: FxProviderConfig,
  env: Env,
  options: { backoffMs: number; fetch?: typeof fetch; now?: () => Date },
): HttpFxProvider {
  const defaults = config.FX_PROVIDER === 'base-rates' ? BASE_RATES_DEFAULT_PATHS : PAIRS_DEFAULT_PATHS;
  // The ECB documents no key: none is sent there, whatever is configured.
  const apiKey = config.FX_PROVIDER === 'ecb' ? undefined : fxApiKeySource(env);
  return new HttpFxProvider({
    url: providerUrl(config),
    kind: config.FX_PROVIDER,
    paths: {
      rates: config.FX_PROVIDER_RATES_PATH ?? defaults.rates,
      asOf: config.FX_PROVIDER_AS_OF_PATH ?? defaults.asOf,
      source: config.FX_PROVIDER_SOURCE_PATH ?? defaults.source,
      base: config.FX_PROVIDER_BASE_PATH ?? defaults.base,
    },
    keyIn: keyPlacement(config.FX_PROVIDER_KEY_IN),
    backoffMs: options.backoffMs,
    ...(apiKey ? { apiKey } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

export class HttpFxProvider implements FxProvider {
  private readonly fetchFn: typeof fetch;
  private readonly now: () => Date;
  constructor(private readonly options: HttpFxProviderOptions) {
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? (() => new Date());
  }

  async fetchQuote({ timeoutMs, retries }: { timeoutMs: number; retries: number }): Promise<FxQuote> {
    let lastError: FxProviderError | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(this.options.backoffMs * 2 ** (attempt - 1));
      try {
        return await this.fetchOnce(timeoutMs);
      } catch (error) {
        if (!(error instanceof FxProviderError)) throw error;
        lastError = error;
        // A provider that answers with garbage will answer the same garbage again: retry transport faults only.
        if (!['timeout', 'http_error', 'network_error'].includes(error.reason)) break;
      }
    }
    throw lastError ?? new FxProviderError('no attempt made', 'network_error');
  }

  private async fetchOnce(timeoutMs: number): Promise<FxQuote> {
    const url = new URL(this.options.url);
    const headers: Record<string, string> = {
      accept: this.options.kind === 'ecb' ? 'application/xml, text/xml' : 'application/json',
    };
    if (this.options.apiKey) {
      const key = await this.options.apiKey();
      const placement = this.options.keyIn;
      if (placement.in === 'query') url.searchParams.set(placement.name, key);
      else headers[placement.name] = `${placement.prefix}${key}`;
    }

    const controller = new AbortController();
    // One timer covers headers AND body: a provider that trickles its body is as slow as one that never answers.
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const fetchedAt = this.now();
    let text: string;
    try {
      const response = await this.fetchFn(url, { headers, signal: controller.signal, redirect: 'manual' });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => {});
        throw new FxProviderError(
          `provider answered a redirect (HTTP ${response.status}), refused`,
          'redirect',
        );
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new FxProviderError(`provider answered HTTP ${response.status}`, 'http_error');
      }
      text = await readCapped(response, this.options.maxBodyBytes ?? MAX_FX_BODY_BYTES);
    } catch (error) {
      if (error instanceof FxProviderError) throw error;
      // The cause is dropped on purpose: a transport error may quote the request URL, key included.
      if (controller.signal.aborted) {
        throw new FxProviderError(`provider did not answer within ${timeoutMs} ms`, 'timeout');
      }
      throw new FxProviderError('provider unreachable', 'network_error');
    } finally {
      clearTimeout(timer);
    }

    try {
      return this.parse(text, fetchedAt);
    } catch (error) {
      if (error instanceof FxProviderError) throw error;
      throw new FxProviderError('provider answer could not be read', 'invalid_response');
    }
  }

  private parse(text: string, fetchedAt: Date): FxQuote {
    const host = new URL(this.options.url).host;
    switch (this.options.kind) {
      case 'pairs':
        return parsePairsAnswer(text, this.options.paths, fetchedAt, host);
      case 'base-rates':
        return parseBaseRatesAnswer(text, this.options.paths, fetchedAt, host);
      case 'ecb':
        return parseEcbAnswer(text, fetchedAt);
    }
  }
}

/** The body as UTF-8 text, refused as soon as it passes `max` bytes (declared or actually sent). */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => {});
    throw new FxProviderError(`provider answer of ${declared} bytes is over ${max}`, 'too_large');
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new FxProviderError(`provider answer is over ${max} bytes`, 'too_large');
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new FxProviderError('provider answer is not UTF-8', 'invalid_response');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

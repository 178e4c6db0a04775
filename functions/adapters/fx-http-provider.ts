/**
 * The FX provider port over HTTP: `GET {FX_PROVIDER_URL}` answering JSON. Where the rates, timestamp and
 * source sit in the answer is configuration (dotted paths), so another provider needs no code change:
 * the sandbox answers `{"source":"sandbox","asOf":"…","rates":{"USD/CNY":"7.123400"}}`.
 */
import * as z from 'zod/mini';
import { type FxProvider, FxProviderError, type FxQuote } from '../core/fx.ts';

export interface HttpFxProviderOptions {
  readonly url: string;
  /** Dotted path of the object mapping pairs to rates (default `rates`). */
  readonly ratesPath: string;
  /** Dotted path of the rates' timestamp; missing → the fetch time. */
  readonly asOfPath: string;
  /** Dotted path of the source name; missing → the URL's host. */
  readonly sourcePath: string;
  /** First retry waits this long, doubling after each failed attempt. */
  readonly backoffMs: number;
  /** Injected in tests; `globalThis.fetch` otherwise. */
  readonly fetch?: typeof fetch;
  readonly now?: () => Date;
}

/** Environment settings of the HTTP provider, shared by the orders and fx-refresh configs. */
export const httpFxProviderEnv = {
  FX_PROVIDER_URL: z.string().check(z.url('must be a URL')),
  FX_PROVIDER_RATES_PATH: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'rates'),
  FX_PROVIDER_AS_OF_PATH: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'asOf'),
  FX_PROVIDER_SOURCE_PATH: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'source'),
};

function at(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The provider as configured by the `httpFxProviderEnv` variables (orders and FX refresh alike). */
export function httpFxProviderFromConfig(
  config: {
    FX_PROVIDER_URL: string;
    FX_PROVIDER_RATES_PATH: string;
    FX_PROVIDER_AS_OF_PATH: string;
    FX_PROVIDER_SOURCE_PATH: string;
  },
  backoffMs: number,
): HttpFxProvider {
  return new HttpFxProvider({
    url: config.FX_PROVIDER_URL,
    ratesPath: config.FX_PROVIDER_RATES_PATH,
    asOfPath: config.FX_PROVIDER_AS_OF_PATH,
    sourcePath: config.FX_PROVIDER_SOURCE_PATH,
    backoffMs,
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
        if (error.reason === 'invalid_response') break;
      }
    }
    throw lastError ?? new FxProviderError('no attempt made', 'network_error');
  }

  private async fetchOnce(timeoutMs: number): Promise<FxQuote> {
    const controller = new AbortController();
    // One timer covers headers AND body: a provider that trickles its body is as slow as one that never answers.
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const fetchedAt = this.now();
    let body: unknown;
    try {
      const response = await this.fetchFn(this.options.url, {
        headers: { accept: 'application/json' },
        signal: controller.signal,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new FxProviderError(`provider answered HTTP ${response.status}`, 'http_error');
      }
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch (cause) {
        throw new FxProviderError('provider answer is not JSON', 'invalid_response', { cause });
      }
    } catch (error) {
      if (error instanceof FxProviderError) throw error;
      if (controller.signal.aborted) {
        throw new FxProviderError(`provider did not answer within ${timeoutMs} ms`, 'timeout', {
          cause: error,
        });
      }
      throw new FxProviderError('provider unreachable', 'network_error', { cause: error });
    } finally {
      clearTimeout(timer);
    }

    const rates = at(body, this.options.ratesPath);
    if (rates === null || typeof rates !== 'object' || Array.isArray(rates)) {
      throw new FxProviderError(`no rates object at "${this.options.ratesPath}"`, 'invalid_response');
    }
    const asOfRaw = at(body, this.options.asOfPath);
    const asOfMs = typeof asOfRaw === 'string' ? Date.parse(asOfRaw) : Number.NaN;
    // A provider clock ahead of ours would make its rates look younger than they are: clamp to the fetch time.
    const asOf = new Date(
      Number.isNaN(asOfMs) ? fetchedAt.getTime() : Math.min(asOfMs, fetchedAt.getTime()),
    ).toISOString();
    const sourceRaw = at(body, this.options.sourcePath);
    const source = typeof sourceRaw === 'string' && sourceRaw ? sourceRaw : new URL(this.options.url).host;
    return { source, asOf, rates: rates as Record<string, unknown> };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

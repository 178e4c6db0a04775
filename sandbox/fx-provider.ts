/**
 * The sandbox's own FX provider: an HTTP JSON source the FX refresh and the orders' live check call over
 * real HTTP, and that tests steer with `PUT /_sandbox/fx/live`
 * (`{"rates":{"USD/CNY":"7.250000"}}`, optionally `"delayMs"` to be slow or `"status"` to fail).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** Base currency CNY: 1 unit of the pay currency = rate CNY. */
export const SANDBOX_RATES: Record<string, string> = {
  'USD/CNY': '7.123400',
  'EUR/CNY': '7.745000',
  'GBP/CNY': '9.012300',
  'JPY/CNY': '0.047600',
  'HKD/CNY': '0.915200',
};

const RATE = /^\d{1,9}(\.\d{1,9})?$/;

export class FakeFxProvider {
  rates: Record<string, string> = { ...SANDBOX_RATES };
  delayMs = 0;
  status = 200;

  handleSetLive(event: APIGatewayProxyEventV2): APIGatewayProxyStructuredResultV2 {
    let body: { rates?: Record<string, unknown>; delayMs?: unknown; status?: unknown };
    try {
      body = JSON.parse(event.body ?? '{}');
    } catch {
      return { statusCode: 400, body: JSON.stringify({ error: 'body must be JSON' }) };
    }
    // Test steering may set nonsense rates on purpose (zero, negative, text): only the shape is checked.
    if (body.rates && typeof body.rates === 'object') {
      for (const [pair, rate] of Object.entries(body.rates)) this.rates[pair] = String(rate);
    }
    if (typeof body.delayMs === 'number') this.delayMs = body.delayMs;
    if (typeof body.status === 'number') this.status = body.status;
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rates: this.rates, delayMs: this.delayMs, status: this.status }),
    };
  }

  async handleProvider(): Promise<APIGatewayProxyStructuredResultV2> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.status !== 200)
      return { statusCode: this.status, body: JSON.stringify({ error: 'provider_down' }) };
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'sandbox', asOf: new Date().toISOString(), rates: this.rates }),
    };
  }

  static isRate(value: string): boolean {
    return RATE.test(value);
  }
}

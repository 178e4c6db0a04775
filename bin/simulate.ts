/**
 * `npm run simulate -- [options]`: signed gateway callbacks against the sandbox (or any URL).
 *
 *   --gateway stripe|paypal|localpay|alipay|wechatpay   (default stripe)
 *   --orders N            orders to create and pay (default 20)
 *   --duplicates R        share of payments delivered again, 0..1 (default 0.2)
 *   --retries K           re-deliveries per duplicated payment, each re-signed (default 1)
 *   --concurrency C       deliveries in flight (default 8)
 *   --rate N              at most N deliveries per second (default: unlimited)
 *   --out-of-order        shuffle first deliveries and re-deliveries together
 *   --scenario S          payments (default) | late-reference (stripe: Payment Link intent without an
 *                         order id + checkout.session.completed) | refund-failure (stripe, wechatpay:
 *                         pay, create a refund, the gateway fails it)
 *   --currency USD        pay currency of the orders (default USD)
 *   --url URL             the HTTP API (default: the sandbox's, from endpoints.json)
 *   --endpoints FILE      endpoints.json with the gateway keys (default $SANDBOX_DIR/endpoints.json)
 *   --json                print the summary as JSON
 */
import './cli-env.ts';
import { parseArgs } from 'node:util';
import { assertCurrency } from '../functions/core/money.ts';
import { SCENARIOS, type Scenario, simulate } from '../sandbox/simulator.ts';
import { progressLine, readEndpoints } from './endpoints.ts';

const { values } = parseArgs({
  options: {
    gateway: { type: 'string', default: 'stripe' },
    orders: { type: 'string', default: '20' },
    duplicates: { type: 'string', default: '0.2' },
    retries: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    rate: { type: 'string', default: '0' },
    'out-of-order': { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'payments' },
    currency: { type: 'string', default: 'USD' },
    url: { type: 'string' },
    endpoints: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run simulate -- [--gateway stripe] [--orders 20] [--duplicates 0.2] [--retries 1]');
  console.log(
    '       [--concurrency 8] [--rate N] [--out-of-order] [--scenario payments|late-reference|refund-failure]',
  );
  console.log('       [--currency USD] [--url URL] [--endpoints FILE] [--json]');
  process.exit(0);
}

function number(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

function scenario(raw: string | undefined): Scenario {
  if (!(SCENARIOS as readonly string[]).includes(raw ?? '')) {
    console.error(`--scenario must be one of ${SCENARIOS.join(', ')}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return raw as Scenario;
}

try {
  const endpoints = readEndpoints(values.endpoints);
  const gateway = values.gateway!;
  if (!endpoints.gateways[gateway]) {
    console.error(`unknown gateway ${gateway}: one of ${Object.keys(endpoints.gateways).join(', ')}`);
    process.exit(2);
  }
  const summary = await simulate(
    {
      api: values.url ?? endpoints.api,
      gateway,
      keys: endpoints.gateways,
      orders: Math.floor(number('orders', values.orders, 1, 1_000_000)),
      duplicateRatio: number('duplicates', values.duplicates, 0, 1),
      retries: Math.floor(number('retries', values.retries, 0, 100)),
      concurrency: Math.floor(number('concurrency', values.concurrency, 1, 512)),
      ratePerSecond: number('rate', values.rate, 0, 100_000),
      outOfOrder: values['out-of-order']!,
      scenario: scenario(values.scenario),
      payCurrency: assertCurrency(values.currency),
    },
    (done, total, outcomes) => {
      if (done % 10 === 0 || done === total) {
        const counts = Object.entries(outcomes)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        progressLine(`delivered ${done}/${total}  ${counts}`);
      }
    },
  );
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (values.json) {
    const { payments: _payments, ...rest } = summary;
    console.log(JSON.stringify(rest));
  } else {
    console.log(
      `${summary.ordersCreated} orders, ${summary.deliveries} deliveries in ${summary.seconds.toFixed(1)} s via ${gateway}`,
    );
    for (const [outcome, count] of Object.entries(summary.outcomes).sort()) {
      console.log(`  ${outcome.padEnd(16)} ${count}`);
    }
  }
} catch (error) {
  console.error(`simulate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

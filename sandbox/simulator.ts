/**
 * The webhook simulator: creates orders, then delivers signed payment callbacks the way gateways do —
 * concurrently, some of them again later (re-signed with fresh timestamps, as a retry job would), in or
 * out of order — and counts what the API answered.
 */
import type { Currency } from '../functions/core/money.ts';
import {
  type CallbackRequestSpec,
  type GatewayKeys,
  LIFECYCLE_EVENTS,
  lifecycleCallback,
  newEventId,
  newTransactionId,
  type PaymentSpec,
  paymentCallback,
  sendCallback,
} from './gateway-events.ts';

/**
 * What each simulated order goes through:
 * - `payments`: one payment callback (re-delivered per `duplicateRatio`/`retries`);
 * - `late-reference` (Stripe): a Payment Link payment, `payment_intent.succeeded` without an order id
 *   and `checkout.session.completed` naming it, in either order (shuffled with `outOfOrder`);
 * - `refund-failure` (Stripe, WeChat Pay): paid, a refund created, and the gateway failing it
 *   (`refund.failed` / `REFUND.CLOSED`), re-delivered like any event.
 */
export const SCENARIOS = ['payments', 'late-reference', 'refund-failure'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface SimulateOptions {
  /** Base URL of the HTTP API. */
  readonly api: string;
  readonly gateway: string;
  readonly keys: GatewayKeys;
  readonly orders: number;
  /** Share of payments delivered more than once (0..1). */
  readonly duplicateRatio: number;
  /** Extra deliveries of each duplicated payment, each re-signed at its own time. */
  readonly retries: number;
  readonly concurrency: number;
  readonly outOfOrder: boolean;
  readonly payCurrency: Currency;
  /** Deliveries per second at most (0 = as fast as the concurrency allows). */
  readonly ratePerSecond?: number;
  /** Headers for order creation (a deployed API needs IAM-signed requests; the sandbox is open). */
  readonly orderHeaders?: Record<string, string>;
  /** @default 'payments' */
  readonly scenario?: Scenario;
}

export interface SimulatedPayment extends PaymentSpec {
  readonly expectedAmountMinor: number;
}

export interface SimulateSummary {
  readonly ordersCreated: number;
  readonly deliveries: number;
  readonly outcomes: Record<string, number>;
  readonly payments: SimulatedPayment[];
  readonly seconds: number;
}

export type Progress = (done: number, total: number, outcomes: Record<string, number>) => void;

const ITEMS = [
  { sku: 'tb-6618', title: 'Tea set', unitPriceMinor: 5900 },
  { sku: 'tb-1024', title: 'Silk scarf', unitPriceMinor: 12800 },
  { sku: '1688-77', title: 'Phone case (10 pack)', unitPriceMinor: 3550 },
  { sku: 'tb-0420', title: 'Porcelain bowl', unitPriceMinor: 8800 },
];

export async function createOrder(
  api: string,
  payCurrency: Currency,
  i: number,
  headers: Record<string, string> = {},
): Promise<{ orderId: string; payAmountMinor: number; payCurrency: Currency }> {
  const item = ITEMS[i % ITEMS.length]!;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        customerId: `c-${1000 + (i % 97)}`,
        payCurrency,
        items: [{ ...item, quantity: 1 + (i % 3) }],
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === 201) {
      return {
        orderId: String(body.orderId),
        payAmountMinor: Number(body.payAmountMinor),
        payCurrency: body.payCurrency as Currency,
      };
    }
    // 409 fx_rate_moved / 503 stale: the API says retry, so retry a few times as a shop would.
    if ((res.status === 409 || res.status === 503) && attempt < 5) {
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      continue;
    }
    throw new Error(`POST /orders answered ${res.status}: ${JSON.stringify(body)}`);
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight, in order of the array. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  ratePerSecond = 0,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      if (ratePerSecond > 0) {
        const due = started + (i * 1000) / ratePerSecond;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return results;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export async function simulate(options: SimulateOptions, progress?: Progress): Promise<SimulateSummary> {
  const t0 = Date.now();
  const created = await pool(
    Array.from({ length: options.orders }, (_, i) => i),
    Math.min(options.concurrency, 8),
    (i) => createOrder(options.api, options.payCurrency, i, options.orderHeaders),
  );
  const payments: SimulatedPayment[] = created.map((o) => ({
    orderId: o.orderId,
    amountMinor: o.payAmountMinor,
    currency: o.payCurrency,
    transactionId: newTransactionId(options.gateway, 'payment'),
    eventId: newEventId(options.gateway),
    expectedAmountMinor: o.payAmountMinor,
  }));

  const scenario = options.scenario ?? 'payments';
  if (scenario !== 'payments') {
    return runScenario(scenario, options, created.length, payments, t0, progress);
  }

  // First deliveries, then the re-deliveries of a share of them (a retry job runs later).
  type Delivery = { payment: SimulatedPayment; retry: number };
  const firsts: Delivery[] = payments.map((payment) => ({ payment, retry: 0 }));
  const duplicated = payments.filter((_, i) => (i * 7919) % 1000 < options.duplicateRatio * 1000);
  const retries: Delivery[] = [];
  for (let k = 1; k <= options.retries; k++)
    for (const payment of duplicated) retries.push({ payment, retry: k });
  const deliveries = options.outOfOrder ? shuffle([...firsts, ...retries]) : [...firsts, ...retries];

  const outcomes: Record<string, number> = {};
  let done = 0;
  await pool(
    deliveries,
    options.concurrency,
    async (d) => {
      // Signed when sent: a retry carries a fresh timestamp, as gateways re-sign each attempt.
      const spec: CallbackRequestSpec = paymentCallback(options.gateway, options.keys, d.payment, new Date());
      let result = await sendCallback(options.api, spec);
      // 409 in_progress asks the gateway to come back: do so, like a gateway would.
      for (let attempt = 0; result.status === 409 && attempt < 5; attempt++) {
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
        result = await sendCallback(options.api, paymentCallback(options.gateway, options.keys, d.payment));
      }
      outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
      done++;
      progress?.(done, deliveries.length, outcomes);
    },
    options.ratePerSecond,
  );
  return {
    ordersCreated: created.length,
    deliveries: deliveries.length,
    outcomes,
    payments,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** Sends a callback, coming back after a 409 in_progress as a gateway would. */
async function deliver(api: string, build: () => CallbackRequestSpec) {
  let result = await sendCallback(api, build());
  for (let attempt = 0; (result.status === 409 || result.status >= 500) && attempt < 5; attempt++) {
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    result = await sendCallback(api, build());
  }
  return result;
}

async function runScenario(
  scenario: Exclude<Scenario, 'payments'>,
  options: SimulateOptions,
  ordersCreated: number,
  payments: SimulatedPayment[],
  t0: number,
  progress?: Progress,
): Promise<SimulateSummary> {
  const { api, gateway, keys } = options;
  const needs = scenario === 'late-reference' ? 'checkout_session_completed' : 'refund_failed';
  if (!LIFECYCLE_EVENTS[needs].includes(gateway)) {
    throw new Error(`scenario ${scenario} needs ${LIFECYCLE_EVENTS[needs].join(' or ')}, not ${gateway}`);
  }
  const outcomes: Record<string, number> = {};
  const count = (outcome: string) => {
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  };
  let deliveries = 0;
  let done = 0;
  const repeats = (i: number) => ((i * 7919) % 1000 < options.duplicateRatio * 1000 ? options.retries : 0);
  await pool(
    payments,
    options.concurrency,
    async (payment, i) => {
      const sends: (() => CallbackRequestSpec)[] = [];
      if (scenario === 'late-reference') {
        const intent = () => lifecycleCallback(gateway, keys, 'payment_without_order', { p: payment });
        const session = () => lifecycleCallback(gateway, keys, 'checkout_session_completed', { p: payment });
        const intentFirst = options.outOfOrder ? Math.random() < 0.5 : i % 2 === 0;
        sends.push(...(intentFirst ? [intent, session] : [session, intent]));
        for (let k = 0; k < repeats(i); k++) sends.push(intent, session);
      } else {
        count(`payment:${(await deliver(api, () => paymentCallback(gateway, keys, payment))).outcome}`);
        const res = await fetch(`${api}/orders/${encodeURIComponent(payment.orderId)}/refunds`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.orderHeaders },
          body: JSON.stringify({ baseAmountMinor: 100 }),
        });
        const refund = (await res.json()) as { refundId?: string; payAmountMinor?: number };
        if (res.status !== 201 || !refund.refundId) {
          count(`refund:${res.status}`);
          return;
        }
        const spec = {
          orderId: payment.orderId,
          paymentTransactionId: payment.transactionId,
          refundTransactionId: newTransactionId(gateway, 'refund'),
          amountMinor: Number(refund.payAmountMinor),
          currency: payment.currency,
          eventId: newEventId(gateway),
          refundId: refund.refundId,
        };
        const failure = () => lifecycleCallback(gateway, keys, 'refund_failed', { r: spec });
        for (let k = 0; k <= repeats(i); k++) sends.push(failure);
      }
      deliveries += sends.length;
      for (const build of sends) {
        count((await deliver(api, build)).outcome);
        done++;
        progress?.(done, deliveries, outcomes);
      }
    },
    options.ratePerSecond,
  );
  return { ordersCreated, deliveries, outcomes, payments, seconds: (Date.now() - t0) / 1000 };
}

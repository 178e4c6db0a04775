/**
 * A flood of forged callbacks against the real sandbox (a child process, loopback only, bounded): 2,000 forged
 * Stripe, PayPal and localpay callbacks at 32 in flight. Every one is refused (401, or 413 when oversized),
 * nothing reaches the ledger or the idempotency table, and a genuine callback sent in the middle of the flood
 * is still processed promptly.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallbackRequestSpec,
  type GatewayKeys,
  newEventId,
  newTransactionId,
  paymentCallback,
  sendCallback,
} from '../../sandbox/gateway-events.ts';
import { createOrder, pool } from '../../sandbox/simulator.ts';
import { javaOnPort, type SandboxProcess, spawnSandbox, waitForReady } from '../support/sandbox-process.ts';

const FORGED = 2_000;
const IN_FLIGHT = 32;
/** Sent after this many forged requests have been started. */
const VALID_AT = 1_000;
const VALID_DEADLINE_MS = 5_000;
/** CONTRACT §3: over 262,144 bytes is 413. */
const OVERSIZED_BYTES = 262_144 + 1;
const GATEWAYS = ['stripe', 'paypal', 'localpay'] as const;

interface Endpoints {
  api: string;
  dynamodb: string;
  region: string;
  tables: Record<'payments' | 'idempotency', string>;
  gateways: GatewayKeys;
}

let sandbox: SandboxProcess;
let e: Endpoints;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  sandbox = await spawnSandbox({ env: { SANDBOX_IN_MEMORY: '1', POWERTOOLS_LOG_LEVEL: 'SILENT' } });
  await waitForReady(sandbox);
  e = sandbox.endpoints() as unknown as Endpoints;
  expect(new URL(e.api).hostname).toBe('127.0.0.1');
  dynamo = new DynamoDBClient({
    endpoint: e.dynamodb,
    region: e.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  dynamo?.destroy();
  sandbox.child.kill('SIGTERM');
  await sandbox.waitForExit(5000);
  expect(javaOnPort(sandbox.ports.dynamodb)).toHaveLength(0);
});

async function count(table: string): Promise<number> {
  let n = 0;
  for await (const page of paginateScan(
    { client: dynamo },
    { TableName: table, Select: 'COUNT', ConsistentRead: true },
  )) {
    n += page.Count ?? 0;
  }
  return n;
}

/** Keys that look right but are not the sandbox's: what a forger without the secrets can sign with. */
function forgedKeys(keys: GatewayKeys): GatewayKeys {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...keys,
    stripe: { ...keys.stripe, webhookSecret: `whsec_${randomBytes(24).toString('hex')}` },
    localpay: { ...keys.localpay, secret: `whsec_${randomBytes(24).toString('base64')}` },
    paypal: { ...keys.paypal, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
  };
}

type Forgery =
  | 'wrong_key'
  | 'tampered_body'
  | 'stale_timestamp'
  | 'random_body'
  | 'no_signature'
  | 'oversized';
const FORGERIES: readonly Forgery[] = [
  'wrong_key',
  'tampered_body',
  'stale_timestamp',
  'random_body',
  'no_signature',
  'oversized',
];

function forge(
  i: number,
  orderId: string,
  forged: GatewayKeys,
): { kind: Forgery; spec: CallbackRequestSpec } {
  const gateway = GATEWAYS[i % GATEWAYS.length]!;
  const kind = FORGERIES[Math.floor(i / GATEWAYS.length) % FORGERIES.length]!;
  const payment = {
    orderId,
    amountMinor: 1 + (i % 5_000),
    currency: 'USD' as const,
    transactionId: newTransactionId(gateway, 'payment'),
    eventId: newEventId(gateway),
  };
  const genuine = e.gateways;
  switch (kind) {
    case 'wrong_key':
      return { kind, spec: paymentCallback(gateway, forged, payment) };
    case 'tampered_body': {
      // Signed with the real keys, then redirected to another order in flight.
      const spec = paymentCallback(gateway, genuine, payment);
      const signed = spec.body.toString('utf8');
      const body = Buffer.from(signed.replace(orderId, `${orderId.slice(0, -1)}x`));
      if (body.equals(spec.body)) throw new Error(`tampering left the ${gateway} body unchanged`);
      return { kind, spec: { ...spec, body } };
    }
    case 'stale_timestamp':
      // Correctly signed ten minutes ago: outside ±300 s for Stripe and Standard Webhooks. PayPal signs no
      // timestamp we check, so its stale case is a wrong-key one.
      return {
        kind,
        spec: paymentCallback(
          gateway,
          gateway === 'paypal' ? forged : genuine,
          payment,
          new Date(Date.now() - 600_000),
        ),
      };
    case 'random_body': {
      const spec = paymentCallback(gateway, forged, payment);
      return { kind, spec: { ...spec, body: randomBytes(64 + (i % 2_048)) } };
    }
    case 'no_signature':
      return {
        kind,
        spec: {
          path: `/callbacks/${gateway}`,
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ id: payment.eventId, type: 'payment_intent.succeeded' })),
        },
      };
    case 'oversized': {
      // Validly signed for all the handler can tell without reading it: size is checked first.
      const spec = paymentCallback(gateway, genuine, payment);
      return {
        kind,
        spec: { ...spec, body: Buffer.concat([spec.body, Buffer.alloc(OVERSIZED_BYTES, 0x20)]) },
      };
    }
  }
}

async function post(spec: CallbackRequestSpec): Promise<number> {
  const res = await fetch(`${e.api}${spec.path}`, { method: 'POST', headers: spec.headers, body: spec.body });
  await res.arrayBuffer();
  return res.status;
}

describe('a flood of forged callbacks', () => {
  it(`${FORGED} forged callbacks at ${IN_FLIGHT} in flight: all refused, nothing written, a genuine one still processed`, async () => {
    const order = await createOrder(e.api, 'USD', 1);
    const forged = forgedKeys(e.gateways);
    const before = {
      payments: await count(e.tables.payments),
      idempotency: await count(e.tables.idempotency),
    };

    let valid: Promise<{ status: number; outcome: string; ms: number }> | undefined;
    const started = Date.now();
    const results = await pool(
      Array.from({ length: FORGED }, (_, i) => i),
      IN_FLIGHT,
      async (i) => {
        if (i === VALID_AT) {
          const spec = paymentCallback('stripe', e.gateways, {
            orderId: order.orderId,
            amountMinor: order.payAmountMinor,
            currency: 'USD',
            transactionId: newTransactionId('stripe', 'payment'),
            eventId: newEventId('stripe'),
          });
          const t = Date.now();
          valid = sendCallback(e.api, spec).then((r) => ({
            status: r.status,
            outcome: r.outcome,
            ms: Date.now() - t,
          }));
        }
        const { kind, spec } = forge(i, order.orderId, forged);
        return { kind, status: await post(spec) };
      },
    );
    const floodMs = Date.now() - started;

    const wrong = results.filter((r) => r.status !== (r.kind === 'oversized' ? 413 : 401));
    expect(wrong.slice(0, 5)).toEqual([]);
    for (const kind of FORGERIES) expect(results.filter((r) => r.kind === kind).length).toBeGreaterThan(300);

    expect(valid).toBeDefined();
    const v = await valid!;
    expect([v.status, v.outcome]).toEqual([200, 'processed']);
    expect(v.ms).toBeLessThan(VALID_DEADLINE_MS);

    // Only the genuine callback left a trace: one ledger entry, one idempotency record.
    expect(await count(e.tables.payments)).toBe(before.payments + 1);
    expect(await count(e.tables.idempotency)).toBe(before.idempotency + 1);
    const read = (await (await fetch(`${e.api}/orders/${order.orderId}`)).json()) as {
      status: string;
      payments: unknown[];
    };
    expect(read.status).toBe('paid');
    expect(read.payments).toHaveLength(1);

    console.log(
      `forged flood: ${FORGED} requests in ${floodMs} ms (${Math.round((FORGED * 1000) / floodMs)}/s); ` +
        `genuine callback mid-flood answered in ${v.ms} ms`,
    );
  });
});

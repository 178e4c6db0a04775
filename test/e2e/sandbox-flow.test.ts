/**
 * The sandbox over HTTP, as a shop's engineers use it: create orders, pay them through every gateway's
 * signed callbacks (with duplicates), refund, and read the result back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Currency } from '../../functions/core/money.ts';
import {
  type GatewayKeys,
  newEventId,
  newTransactionId,
  paymentCallback,
  refundCallback,
  sendCallback,
} from '../../sandbox/gateway-events.ts';
import { createOrder, simulate } from '../../sandbox/simulator.ts';
import { javaOnPort, type SandboxProcess, spawnSandbox, waitForReady } from '../support/sandbox-process.ts';

let sandbox: SandboxProcess;
let api: string;
let keys: GatewayKeys;

beforeAll(async () => {
  sandbox = await spawnSandbox({ env: { SANDBOX_IN_MEMORY: '1' } });
  await waitForReady(sandbox);
  const e = sandbox.endpoints() as unknown as { api: string; gateways: GatewayKeys };
  api = e.api;
  keys = e.gateways;
});

afterAll(async () => {
  sandbox.child.kill('SIGTERM');
  await sandbox.waitForExit(5000);
  expect(javaOnPort(sandbox.ports.dynamodb)).toHaveLength(0);
});

async function getOrder(orderId: string) {
  const res = await fetch(`${api}/orders/${orderId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as {
    status: string;
    payAmountMinor: number;
    payments: { gateway: string; kind: string; amountMinor: number; classification: string }[];
    refunds: { refundId: string; status: string }[];
  };
}

const ACK: Record<string, { status: number; body: string }> = {
  alipay: { status: 200, body: 'success' },
  wechatpay: { status: 204, body: '' },
};

describe('payments through every gateway', () => {
  for (const gateway of ['stripe', 'paypal', 'localpay', 'alipay', 'wechatpay']) {
    it(`${gateway}: a signed payment pays the order once; a re-delivery changes nothing; a refund completes`, async () => {
      const currency: Currency = gateway === 'alipay' || gateway === 'wechatpay' ? 'CNY' : 'USD';
      const order = await createOrder(api, currency, 1);
      const payment = {
        orderId: order.orderId,
        amountMinor: order.payAmountMinor,
        currency,
        transactionId: newTransactionId(gateway, 'payment'),
        eventId: newEventId(gateway),
      };
      const first = await sendCallback(api, paymentCallback(gateway, keys, payment));
      const again = await sendCallback(api, paymentCallback(gateway, keys, payment));
      const ack = ACK[gateway];
      if (ack) {
        expect([first.status, first.body]).toEqual([ack.status, ack.body]);
        expect([again.status, again.body]).toEqual([ack.status, ack.body]);
      } else {
        expect([first.status, first.outcome]).toEqual([200, 'processed']);
        expect([again.status, again.outcome]).toEqual([200, 'duplicate']);
      }
      let read = await getOrder(order.orderId);
      expect(read.status).toBe('paid');
      expect(read.payments).toEqual([
        expect.objectContaining({ gateway, kind: 'payment', amountMinor: order.payAmountMinor }),
      ]);

      // Our refund, created through the API, completed by the gateway's refund callback.
      const created = await fetch(`${api}/orders/${order.orderId}/refunds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ sku: 'tb-1024', quantity: 1 }] }),
      });
      expect(created.status).toBe(201);
      const refund = (await created.json()) as { refundId: string; payAmountMinor: number };
      const refundResult = await sendCallback(
        api,
        refundCallback(gateway, keys, {
          orderId: order.orderId,
          paymentTransactionId: payment.transactionId,
          refundTransactionId: newTransactionId(gateway, 'refund'),
          amountMinor: refund.payAmountMinor,
          currency,
          eventId: newEventId(gateway),
          refundId: refund.refundId,
        }),
      );
      expect(refundResult.status).toBe(ack?.status ?? 200);
      read = await getOrder(order.orderId);
      expect(read.refunds).toEqual([
        expect.objectContaining({ refundId: refund.refundId, status: 'completed' }),
      ]);
      expect(read.status).toBe(
        refund.payAmountMinor === order.payAmountMinor ? 'refunded' : 'partially_refunded',
      );
    });
  }

  it('the simulator: 40 orders, half re-delivered twice out of order → 40 processed, 40 duplicates', async () => {
    const summary = await simulate({
      api,
      gateway: 'stripe',
      keys,
      orders: 40,
      duplicateRatio: 0.5,
      retries: 2,
      concurrency: 8,
      outOfOrder: true,
      payCurrency: 'USD',
    });
    expect(summary.outcomes.processed).toBe(40);
    expect(summary.outcomes.duplicate).toBe(summary.deliveries - 40);
    for (const p of summary.payments.slice(0, 5)) expect((await getOrder(p.orderId)).status).toBe('paid');
  });
});

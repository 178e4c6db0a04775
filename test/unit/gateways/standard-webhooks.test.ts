import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  GatewayConfigError,
  InvalidSignatureError,
  MalformedEventError,
  UnsupportedMediaTypeError,
} from '../../../functions/core/gateways/errors.ts';
import { signStandardWebhook } from '../../../functions/core/gateways/signers.ts';
import { createStandardWebhooksGateway } from '../../../functions/core/gateways/standard-webhooks.ts';
import { expectEvent, expectRejects, request, seconds } from './helpers.ts';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const SECRET = secret();
const ROTATED = secret();
const NOW = new Date('2026-11-23T10:00:00Z');
const T = seconds(NOW);
const gateway = createStandardWebhooksGateway({ name: 'localpay', secrets: [SECRET] });

const payment = {
  type: 'payment.succeeded',
  timestamp: '2026-11-23T09:59:58Z',
  data: { transaction_id: 'lp_tx_1', order_id: 'ord-1', amount_minor: 1999, currency: 'USD' },
};

function signed(body: unknown, opts: { secrets?: string[]; timestamp?: number; msgId?: string } = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = signStandardWebhook({
    secrets: opts.secrets ?? [SECRET],
    msgId: opts.msgId ?? 'msg_1',
    timestamp: opts.timestamp ?? T,
    payload,
  });
  return { payload, headers, req: request(payload, { 'content-type': 'application/json', ...headers }) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('standard webhooks signature', () => {
  it('accepts a signature made by the package itself', async () => {
    const payload = JSON.stringify(payment);
    const signature = new Webhook(SECRET).sign('msg_9', new Date(T * 1000), payload);
    const req = request(payload, {
      'content-type': 'application/json',
      'webhook-id': 'msg_9',
      'webhook-timestamp': String(T),
      'webhook-signature': signature,
    });
    const e = await expectEvent(gateway, req, NOW);
    expect(e.eventId).toBe('msg_9');
  });

  it("agrees with the package's own verify() on good and bad deliveries", async () => {
    // The package reads Date.now(); pin the clock to our `now` for the comparison.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    const good = signed(payment);
    const other = signed(payment, { secrets: [secret()] });
    const cases: Array<{
      name: string;
      payload: string;
      headers: Record<string, string>;
      expected: boolean;
    }> = [
      { name: 'valid', payload: good.payload, headers: good.headers, expected: true },
      {
        name: 'tampered body',
        payload: good.payload.replace('1999', '1998'),
        headers: good.headers,
        expected: false,
      },
      { name: 'wrong secret', payload: other.payload, headers: other.headers, expected: false },
      { name: 'expired', ...pick(signed(payment, { timestamp: T - 301 })), expected: false },
      { name: '300 s old', ...pick(signed(payment, { timestamp: T - 300 })), expected: true },
      { name: 'future', ...pick(signed(payment, { timestamp: T + 301 })), expected: false },
      { name: '300 s ahead', ...pick(signed(payment, { timestamp: T + 300 })), expected: true },
      {
        name: 'other msg id',
        payload: good.payload,
        headers: { ...good.headers, 'webhook-id': 'msg_2' },
        expected: false,
      },
      {
        name: 'missing id',
        payload: good.payload,
        headers: omit(good.headers, 'webhook-id'),
        expected: false,
      },
      {
        name: 'missing signature',
        payload: good.payload,
        headers: omit(good.headers, 'webhook-signature'),
        expected: false,
      },
      {
        name: 'missing timestamp',
        payload: good.payload,
        headers: omit(good.headers, 'webhook-timestamp'),
        expected: false,
      },
      {
        name: 'several signatures, one good',
        payload: good.payload,
        headers: {
          ...good.headers,
          'webhook-signature': `v1,${'A'.repeat(44)} ${good.headers['webhook-signature']}`,
        },
        expected: true,
      },
      {
        name: 'asymmetric scheme only',
        payload: good.payload,
        headers: {
          ...good.headers,
          'webhook-signature': good.headers['webhook-signature']!.replace('v1,', 'v1a,'),
        },
        expected: false,
      },
    ];
    for (const c of cases) {
      const pkg = (() => {
        try {
          new Webhook(SECRET).verify(c.payload, c.headers);
          return true;
        } catch {
          return false;
        }
      })();
      const ours = await gateway
        .verify(request(c.payload, { 'content-type': 'application/json', ...c.headers }), NOW)
        .then(
          () => true,
          (e) => {
            expect(e).toBeInstanceOf(InvalidSignatureError);
            return false;
          },
        );
      expect({ case: c.name, pkg, ours }).toEqual({ case: c.name, pkg: c.expected, ours: c.expected });
    }
  });

  it('checks the timestamp against the injected now, not the real clock', async () => {
    const old = new Date('2001-01-01T00:00:00Z');
    const { req } = signed(payment, { timestamp: seconds(old) });
    expect((await gateway.verify(req, old)).type).toBe('event');
    await expectRejects(gateway.verify(req, NOW), InvalidSignatureError, 401);
  });

  it('rejects a timestamp that is not plain Unix seconds', async () => {
    const { req } = signed(payment);
    const bad = request(req.rawBody, { ...req.headers, 'webhook-timestamp': `${T}abc` });
    await expectRejects(gateway.verify(bad, NOW), InvalidSignatureError, 401);
  });

  it('accepts the second secret while rotating', async () => {
    const rotating = createStandardWebhooksGateway({ name: 'localpay', secrets: [SECRET, ROTATED] });
    const { req } = signed(payment, { secrets: [ROTATED] });
    await expectRejects(gateway.verify(req, NOW), InvalidSignatureError, 401);
    expect((await rotating.verify(req, NOW)).type).toBe('event');
    const both = signed(payment, { secrets: [ROTATED, SECRET] });
    expect(both.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect((await gateway.verify(both.req, NOW)).type).toBe('event');
  });

  it('refuses a secret that is not whsec_/base64 at construction', () => {
    expect(() => createStandardWebhooksGateway({ name: 'localpay', secrets: ['whsec_!!!'] })).toThrow(
      GatewayConfigError,
    );
  });

  it('answers 415 for a non-JSON content type before looking at the signature', async () => {
    const { req } = signed(payment);
    await expectRejects(
      gateway.verify(request(req.rawBody, { ...req.headers, 'content-type': 'text/plain' }), NOW),
      UnsupportedMediaTypeError,
      415,
    );
  });
});

function pick(s: { payload: string; headers: Record<string, string> }) {
  return { payload: s.payload, headers: s.headers };
}
function omit(h: Record<string, string>, key: string) {
  const { [key]: _, ...rest } = h;
  return rest;
}

describe('standard webhooks normalisation', () => {
  const verify = (body: unknown) => gateway.verify(signed(body).req, NOW);

  it('payment.succeeded → payment, event id = webhook-id', async () => {
    expect(await verify(payment)).toEqual({
      type: 'event',
      event: {
        gateway: 'localpay',
        eventId: 'msg_1',
        eventType: 'payment.succeeded',
        kind: 'payment',
        transactionId: 'lp_tx_1',
        orderId: 'ord-1',
        amountMinor: 1999,
        currency: 'USD',
        occurredAt: '2026-11-23T09:59:58Z',
        references: { transaction: 'lp_tx_1' },
      },
    });
  });

  it('payment.failed → attempt', async () => {
    expect(await verify({ ...payment, type: 'payment.failed' })).toMatchObject({
      type: 'event',
      event: { kind: 'attempt', transactionId: 'lp_tx_1', amountMinor: 1999 },
    });
  });

  it('refund.succeeded → refund of the refunded transaction with our refund id', async () => {
    const body = {
      type: 'refund.succeeded',
      data: {
        transaction_id: 'lp_rf_1',
        order_id: 'ord-1',
        amount_minor: 500,
        currency: 'JPY',
        refunded_transaction_id: 'lp_tx_1',
        refund_id: 'rf-1',
      },
    };
    expect(await verify(body)).toMatchObject({
      type: 'event',
      event: {
        kind: 'refund',
        transactionId: 'lp_rf_1',
        refundOf: 'lp_tx_1',
        refundId: 'rf-1',
        orderId: 'ord-1',
        amountMinor: 500,
        currency: 'JPY',
        references: { transaction: 'lp_rf_1', refundedTransaction: 'lp_tx_1', refundId: 'rf-1' },
      },
    });
  });

  it.each(['payment.pending', 'customer.created'])('%s is ignored', async (type) => {
    expect(await verify({ type, data: {} })).toEqual({ type: 'ignored', eventType: type, eventId: 'msg_1' });
  });

  it.each([
    ['not JSON', 'not json'],
    ['no type', { data: payment.data }],
    ['missing order reference', { ...payment, data: { ...payment.data, order_id: undefined } }],
    ['missing transaction id', { ...payment, data: { ...payment.data, transaction_id: '' } }],
    ['zero amount', { ...payment, data: { ...payment.data, amount_minor: 0 } }],
    ['negative amount', { ...payment, data: { ...payment.data, amount_minor: -5 } }],
    ['fractional amount', { ...payment, data: { ...payment.data, amount_minor: 19.99 } }],
    ['unknown currency', { ...payment, data: { ...payment.data, currency: 'XXX' } }],
    ['refund without refunded transaction', { type: 'refund.succeeded', data: { ...payment.data } }],
  ])('signed but malformed: %s → MalformedEventError', async (_name, body) => {
    await expectRejects(verify(body), MalformedEventError, 400);
  });
});

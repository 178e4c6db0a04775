/** Stripe webhook bodies in the shape Stripe sends, signed by the official SDK (the oracle). */
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { httpEvent } from './http-events.ts';

const stripe = new Stripe('sk_test_not_a_real_key');
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export function paymentIntentSucceeded(o: {
  orderId?: string;
  amount: number;
  currency?: string;
  paymentIntent?: string;
  eventId?: string;
}): string {
  const pi = o.paymentIntent ?? id('pi');
  return JSON.stringify({
    id: o.eventId ?? id('evt'),
    object: 'event',
    api_version: '2025-10-29.clover',
    created: Math.floor(Date.now() / 1000),
    type: 'payment_intent.succeeded',
    data: {
      object: {
        id: pi,
        object: 'payment_intent',
        amount: o.amount,
        amount_received: o.amount,
        currency: (o.currency ?? 'USD').toLowerCase(),
        latest_charge: `ch_${pi.slice(3)}`,
        metadata: o.orderId ? { order_id: o.orderId } : {},
        status: 'succeeded',
      },
    },
  });
}

export function refundSucceeded(o: {
  paymentIntent: string;
  amount: number;
  currency?: string;
  refund?: string;
  refundId?: string;
}): string {
  return JSON.stringify({
    id: id('evt'),
    object: 'event',
    type: 'refund.updated',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: o.refund ?? id('re'),
        object: 'refund',
        amount: o.amount,
        currency: (o.currency ?? 'USD').toLowerCase(),
        payment_intent: o.paymentIntent,
        charge: `ch_${o.paymentIntent.slice(3)}`,
        status: 'succeeded',
        metadata: o.refundId ? { refund_id: o.refundId } : {},
      },
    },
  });
}

/** A callback request as API Gateway would deliver it, signed now (or at `timestamp`). */
export function signedStripeEvent(
  payload: string,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
) {
  const signature = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  return httpEvent({
    path: '/callbacks/stripe',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
    body: payload,
  });
}

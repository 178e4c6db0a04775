/**
 * Alipay signatures held to the official `alipay-sdk` (it verifies offline): what our signer produces,
 * the SDK accepts; where the SDK refuses a tampered notification, so do we. `checkNotifySignV2` verifies
 * the decoded values as they are (the V1 call decodes them again and throws on a literal "%").
 */
import { generateKeyPairSync } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { describe, expect, it } from 'vitest';
import { createAlipayGateway } from '../../../functions/core/gateways/alipay.ts';
import { InvalidSignatureError } from '../../../functions/core/gateways/errors.ts';
import { signAlipay } from '../../../functions/core/gateways/signers.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const appId = '2021000000000001';
const sellerId = '2088000000000001';

const sdk = new AlipaySdk({
  appId,
  privateKey: privateKeyPem,
  keyType: 'PKCS8',
  alipayPublicKey: publicKeyPem,
});
const gateway = createAlipayGateway({ name: 'alipay', appId, sellerId, alipayPublicKeyPem: publicKeyPem });

const params = {
  notify_id: 'ac05099524730693a8b330c5ecf72da9786',
  notify_time: '2026-11-25 14:03:05',
  notify_type: 'trade_status_sync',
  app_id: appId,
  seller_id: sellerId,
  charset: 'utf-8',
  version: '1.0',
  trade_no: '2026112522001400000000000001',
  out_trade_no: 'ord_01JDAIGOU0000000000000001',
  trade_status: 'TRADE_SUCCESS',
  total_amount: '118.00',
  subject: '茶具套装 & tea set, 100% porcelain',
  gmt_payment: '2026-11-25 14:03:04',
};

const asObject = (form: string) => Object.fromEntries(new URLSearchParams(form));
const request = (form: string) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  rawBody: Buffer.from(form, 'utf8'),
});

describe('Alipay RSA2 against the official alipay-sdk', () => {
  it('the SDK accepts what our signer signs, and so does our verifier', async () => {
    const form = signAlipay({ privateKeyPem, params });
    expect(sdk.checkNotifySignV2(asObject(form))).toBe(true);
    const result = await gateway.verify(request(form), new Date());
    expect(result).toMatchObject({
      type: 'event',
      event: { transactionId: params.trade_no, amountMinor: 11800 },
    });
  });

  it('both refuse a tampered amount, order or time', async () => {
    const form = signAlipay({ privateKeyPem, params });
    for (const [from, to] of [
      ['total_amount=118.00', 'total_amount=1.00'],
      ['out_trade_no=ord_01', 'out_trade_no=ord_02'],
      ['notify_time=2026-11-25', 'notify_time=2026-11-26'],
    ] as const) {
      const tampered = form.replace(from, to);
      expect(tampered).not.toBe(form);
      expect(sdk.checkNotifySignV2(asObject(tampered)), from).toBe(false);
      await expect(gateway.verify(request(tampered), new Date())).rejects.toBeInstanceOf(
        InvalidSignatureError,
      );
    }
  });

  it('both refuse a notification signed with another key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const form = signAlipay({ privateKeyPem: other, params });
    expect(sdk.checkNotifySignV2(asObject(form))).toBe(false);
    await expect(gateway.verify(request(form), new Date())).rejects.toBeInstanceOf(InvalidSignatureError);
  });
});

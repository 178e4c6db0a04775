/**
 * The sandbox as a user runs it (`npm start`): ready within 60 s, endpoints.json, /health, and no Java
 * process left behind however it stops: SIGTERM, Ctrl-C to the process group, or a crash (SIGKILL).
 */
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  javaOnPort,
  type SandboxProcess,
  spawnSandbox,
  waitForReady,
  waitUntil,
} from '../support/sandbox-process.ts';

const started: SandboxProcess[] = [];
afterEach(() => {
  for (const s of started.splice(0)) {
    try {
      process.kill(-s.child.pid!, 'SIGKILL');
    } catch {}
    for (const pid of javaOnPort(s.ports.dynamodb)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
});

async function ready(env: Record<string, string> = {}) {
  const s = await spawnSandbox({ env: { SANDBOX_IN_MEMORY: '1', ...env } });
  started.push(s);
  await waitForReady(s);
  return s;
}

describe('sandbox lifecycle', () => {
  it('starts, serves /health, writes endpoints.json, and SIGTERM stops everything within 5 s', async () => {
    const s = await ready();
    const e = s.endpoints();
    expect(e).toMatchObject({
      api: `http://127.0.0.1:${s.ports.api}`,
      dynamodb: `http://127.0.0.1:${s.ports.dynamodb}`,
      s3: `http://127.0.0.1:${s.ports.s3}`,
      region: 'us-east-1',
      bucket: 'settlements',
      tables: {
        orders: expect.any(String),
        payments: expect.any(String),
        idempotency: expect.any(String),
        fxRates: expect.any(String),
        reconciliations: expect.any(String),
      },
      gateways: {
        stripe: { webhookSecret: expect.stringMatching(/^whsec_/) },
        paypal: {
          webhookId: expect.any(String),
          certUrl: `${e.api}/_sandbox/paypal/cert.pem`,
          rootCaPem: expect.stringMatching(/^-----BEGIN CERTIFICATE-----/),
        },
        localpay: { kind: 'standard-webhooks', secret: expect.stringMatching(/^whsec_/) },
        alipay: { appId: expect.any(String), sellerId: expect.any(String) },
        wechatpay: { mchid: expect.any(String), platformSerial: expect.any(String) },
      },
    });
    expect((e.gateways as { wechatpay: { apiV3Key: string } }).wechatpay.apiV3Key).toHaveLength(32);
    const health = await fetch(`${e.api}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${e.api}/_sandbox/paypal/cert.pem`)).status).toBe(200);
    expect(javaOnPort(s.ports.dynamodb)).toHaveLength(1);

    const t0 = Date.now();
    s.child.kill('SIGTERM');
    await s.waitForExit(5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await waitUntil(() => javaOnPort(s.ports.dynamodb).length === 0, 1000)).toBe(true);
  });

  it('Ctrl-C (SIGINT to the process group) stops everything within 5 s', async () => {
    const s = await ready();
    const t0 = Date.now();
    process.kill(-s.child.pid!, 'SIGINT');
    await s.waitForExit(5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await waitUntil(() => javaOnPort(s.ports.dynamodb).length === 0, 1000)).toBe(true);
  });

  it('a crashed sandbox (SIGKILL) leaves no Java process behind', async () => {
    const s = await ready();
    expect(javaOnPort(s.ports.dynamodb)).toHaveLength(1);
    s.child.kill('SIGKILL');
    expect(await waitUntil(() => javaOnPort(s.ports.dynamodb).length === 0, 5000)).toBe(true);
  });

  it('says clearly which port is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const s = await spawnSandbox({ env: { SANDBOX_IN_MEMORY: '1', PORT: String(port) } });
      started.push(s);
      expect(await s.waitForExit(30_000)).toBe(1);
      expect(s.output()).toContain(`port ${port} for the HTTP API is already in use`);
      expect(s.output()).toContain('PORT=');
      expect(javaOnPort(s.ports.dynamodb)).toHaveLength(0);
    } finally {
      blocker.close();
    }
  });

  it('says what to install when Java is missing', async () => {
    // A PATH with node and nothing else.
    const bin = mkdtempSync(path.join(tmpdir(), 'daigou-nojava-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const s = await spawnSandbox({ env: { SANDBOX_IN_MEMORY: '1', PATH: bin } });
    started.push(s);
    expect(await s.waitForExit(30_000)).toBe(1);
    expect(s.output()).toMatch(/needs a Java runtime 17 or newer.*DYNAMODB_ENDPOINT/s);
  });

  it('keeps data and gateway keys in SANDBOX_DIR between runs', async () => {
    const first = await spawnSandbox();
    started.push(first);
    await waitForReady(first);
    const keys = first.endpoints().gateways;
    await fetch(`${first.endpoints().api}/_sandbox/fx/refresh`, { method: 'POST' });
    first.child.kill('SIGTERM');
    await first.waitForExit(5000);
    const second = await spawnSandbox({ dir: first.dir, ports: first.ports });
    started.push(second);
    await waitForReady(second);
    expect(second.endpoints().gateways).toEqual(keys);
    expect(readFileSync(path.join(first.dir, 'dynamodb', 'shared-local-instance.db')).length).toBeGreaterThan(
      0,
    );
  });
});

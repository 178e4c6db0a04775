/**
 * A steerable FX provider on 127.0.0.1 for integration tests: answers what the test sets, as slowly or as
 * badly as it asks (the same knobs as the sandbox's provider). Not a test file itself.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FxProviderStub {
  readonly url: string;
  /** The `rates` object served (values verbatim: tests set "0", "-1", "abc" on purpose). */
  rates: Record<string, unknown>;
  delayMs: number;
  status: number;
  /** Replaces the whole body when set (e.g. "not json"). */
  rawBody: string | undefined;
  requests: number;
  close(): Promise<void>;
}

export async function startFxProviderStub(rates: Record<string, unknown> = {}): Promise<FxProviderStub> {
  const sockets = new Set<import('node:net').Socket>();
  const stub = {
    url: '',
    rates,
    delayMs: 0,
    status: 200,
    rawBody: undefined as string | undefined,
    requests: 0,
    close: async () => {},
  };
  const server: Server = createServer((_req, res) => {
    stub.requests++;
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(stub.status, { 'content-type': 'application/json' });
      res.end(
        stub.rawBody ??
          JSON.stringify(
            stub.status === 200
              ? { source: 'stub', asOf: new Date().toISOString(), rates: stub.rates }
              : { error: 'provider_down' },
          ),
      );
    };
    if (stub.delayMs) setTimeout(send, stub.delayMs).unref();
    else send();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/rates`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return stub;
}

/**
 * One measurement in a fresh process (so peak RSS is this run's alone): `bare` counts lines with
 * readline, the floor any parser stands on; `reconcile` runs the whole reconciliation with an
 * in-memory ledger port; `unmatched` runs the same file against a ledger that has none of its rows,
 * exceptions.csv streamed to a file and the file read a second time, as the handler does.
 * Prints one JSON line.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { reconcile } from '../functions/core/settlement/reconcile.ts';
import { generatedStripeLedger } from '../test/fixtures/settlement/stripe-generator.ts';

const [mode, file] = process.argv.slice(2);
/**
 * 64 KiB reads, as `readline`'s stream reads the same file for the floor (and about what an S3 body
 * delivers per chunk). 1 MiB reads made every chunk a fresh large string: ~7.5K more page faults and
 * +47 MB peak for the same work.
 */
const CHUNK_BYTES = 64 * 1024;
const t0 = performance.now();
let rows = 0;
let status = '';
let exceptions = 0;
if (mode === 'bare') {
  const lines = createInterface({ input: createReadStream(file!), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const _ of lines) rows++;
  rows -= 1; // the header
} else if (mode === 'unmatched') {
  const out = createWriteStream(`${file}.exceptions.csv`);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const result = await reconcile({
    gateway: 'stripe',
    chunks: createReadStream(file!, { highWaterMark: CHUNK_BYTES }),
    ledger: { getByKeys: async () => [], listReceived: async () => [] },
    now: new Date('2026-11-26T00:00:00.000Z'),
    exceptionsOut: { write, discard: () => undefined },
    reopen: () => createReadStream(file!, { highWaterMark: CHUNK_BYTES }),
  });
  out.end();
  await once(out, 'finish');
  rows = result.summary.rows.total;
  status = result.summary.status;
  exceptions = result.exceptionCount;
} else {
  const result = await reconcile({
    gateway: 'stripe',
    chunks: createReadStream(file!, { highWaterMark: CHUNK_BYTES }),
    ledger: generatedStripeLedger(),
    now: new Date('2026-11-26T00:00:00.000Z'),
  });
  rows = result.summary.rows.total;
  status = result.summary.status;
}
const seconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    rows,
    seconds,
    status,
    exceptions,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);

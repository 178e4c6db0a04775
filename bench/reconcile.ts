/**
 * Reconciliation bench (CONTRACT §8): a generated Stripe file of N rows (1,000,000 by default) through
 * the whole reconciliation with an in-memory ledger port, next to a bare readline pass over the same
 * file in the same run. Each measurement runs in its own process, alternating, median of 3. Smaller
 * files (10k, 100k) show whether time grows linearly with rows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeStripeFile } from '../test/fixtures/settlement/stripe-generator.ts';

export interface ReconcileBench {
  rows: number;
  seconds: number;
  rowsPerSec: number;
  peakRssMb: number;
  parseOnlySeconds: number;
  /** Same measurement at smaller sizes: linear time means a flat secondsPerMillionRows. */
  scaling: { rows: number; seconds: number; secondsPerMillionRows: number }[];
}

interface Sample {
  rows: number;
  seconds: number;
  status: string;
  peakRssMb: number;
  exceptions?: number;
}

/** CONTRACT §8 `reconcileUnmatched`, plus the same run at 100k rows to show memory stays flat. */
export interface ReconcileUnmatchedBench {
  rows: number;
  seconds: number;
  peakRssMb: number;
  exceptions: number;
  scaling: { rows: number; seconds: number; peakRssMb: number }[];
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(mode: 'bare' | 'reconcile' | 'unmatched', file: string): Sample {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/reconcile-worker.ts', mode, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Sample;
}

/** The generated Stripe file of `rows` rows under `dir`, written once and reused. */
export async function stripeFile(dir: string, rows: number, log: (s: string) => void): Promise<string> {
  const file = path.join(dir, `stripe-${rows}.csv`);
  if (!existsSync(file)) {
    log(`reconcile: generating ${rows.toLocaleString('en')} rows…`);
    await writeStripeFile(file, rows);
  }
  return file;
}

export async function benchReconcile(
  dir: string,
  rows: number,
  log: (s: string) => void,
): Promise<ReconcileBench> {
  const sizes = [...new Set([10_000, 100_000, rows].filter((n) => n <= rows))];
  const scaling: ReconcileBench['scaling'] = [];
  let main: Omit<ReconcileBench, 'scaling'> | undefined;
  for (const n of sizes) {
    const file = await stripeFile(dir, n, log);
    const rounds = n === rows ? 3 : 1;
    const bare: number[] = [];
    const full: Sample[] = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(run('bare', file).seconds);
      const sample = run('reconcile', file);
      if (sample.rows !== n || sample.status !== 'complete') {
        throw new Error(`reconcile bench: expected ${n} rows complete, got ${JSON.stringify(sample)}`);
      }
      full.push(sample);
      log(
        `reconcile: ${n.toLocaleString('en')} rows (${Math.round(statSync(file).size / 1e6)} MB): ${sample.seconds.toFixed(2)} s, readline ${bare.at(-1)!.toFixed(2)} s, peak RSS ${sample.peakRssMb} MB`,
      );
    }
    const seconds = median(full.map((s) => s.seconds));
    scaling.push({ rows: n, seconds: round(seconds), secondsPerMillionRows: round((seconds / n) * 1e6) });
    if (n === rows) {
      main = {
        rows: n,
        seconds: round(seconds),
        rowsPerSec: Math.round(n / seconds),
        peakRssMb: Math.max(...full.map((s) => s.peakRssMb)),
        parseOnlySeconds: round(median(bare)),
      };
    }
  }
  return { ...main!, scaling };
}

/**
 * A file none of whose rows the ledger has (every row an exception: a file uploaded under the wrong
 * gateway), through the same parse, match and report path. Before exceptions were streamed, 400k
 * such rows cost 462 MB; the bound is 1 GB and no growth from 100k to 1M rows.
 */
export async function benchReconcileUnmatched(
  dir: string,
  rows: number,
  log: (s: string) => void,
): Promise<ReconcileUnmatchedBench> {
  const sizes = [...new Set([100_000, rows].filter((n) => n <= rows))];
  const scaling: ReconcileUnmatchedBench['scaling'] = [];
  let main: Sample | undefined;
  for (const n of sizes) {
    const file = await stripeFile(dir, n, log);
    const sample = run('unmatched', file);
    if (sample.rows !== n || sample.status !== 'complete' || !sample.exceptions) {
      throw new Error(`reconcileUnmatched bench: expected ${n} rows complete, got ${JSON.stringify(sample)}`);
    }
    log(
      `reconcileUnmatched: ${n.toLocaleString('en')} rows, ${sample.exceptions.toLocaleString('en')} exceptions: ${sample.seconds.toFixed(2)} s, peak RSS ${sample.peakRssMb} MB`,
    );
    scaling.push({ rows: n, seconds: round(sample.seconds), peakRssMb: sample.peakRssMb });
    if (n === rows) main = sample;
  }
  return {
    rows: main!.rows,
    seconds: round(main!.seconds),
    peakRssMb: main!.peakRssMb,
    exceptions: main!.exceptions!,
    scaling,
  };
}

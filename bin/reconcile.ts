/**
 * `npm run reconcile -- <file> --gateway <name> [--bucket <name>] [--endpoints <file>] [--out <dir>]`
 *
 * Uploads a settlement file to `incoming/{gateway}/` of the sandbox's bucket (or, with --bucket, of a
 * real bucket using your AWS credentials), waits for its reconciliation, prints the verdict, the counts
 * and where the report is, and saves the three report files locally.
 * Exit code: 0 balanced, 3 drift above the threshold, 4 incomplete or failed file, 1 error.
 */
import './cli-env.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../functions/adapters/aws-clients.ts';
import { describeSummary, uploadAndWait } from '../sandbox/settlement-upload.ts';
import { progressLine, readEndpoints } from './endpoints.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    gateway: { type: 'string' },
    bucket: { type: 'string' },
    endpoints: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string', default: '900' },
    help: { type: 'boolean', default: false },
  },
});

const usage =
  'usage: npm run reconcile -- <file> --gateway <stripe|paypal|alipay|wechatpay|name> [--bucket <name>] [--out <dir>]';
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const file = positionals[0];
if (!file || !values.gateway) {
  console.error(usage);
  process.exit(2);
}
if (!existsSync(file)) {
  console.error(`reconcile: no such file: ${file}`);
  process.exit(2);
}

try {
  let s3: S3Client;
  let bucket: string;
  let where: string;
  if (values.bucket) {
    s3 = new S3Client({});
    bucket = values.bucket;
    where = `s3://${bucket}`;
  } else {
    const endpoints = readEndpoints(values.endpoints);
    s3 = createS3Client({ S3_ENDPOINT: endpoints.s3 });
    bucket = endpoints.bucket;
    where = `${endpoints.s3}/${bucket}`;
  }
  const result = await uploadAndWait({
    s3,
    bucket,
    file,
    gateway: values.gateway,
    saveTo: values.out ?? path.join(process.env.SANDBOX_DIR || '.sandbox', 'reports'),
    timeoutMs: Number(values.timeout) * 1000,
    progress: progressLine,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const line of describeSummary(result.summary)) console.log(line);
  console.log(`report:  ${path.join(result.localDir, 'report.html')}`);
  console.log(`         (${where}/${result.reportPrefix}report.html)`);
  const s = result.summary;
  process.exit(s.status !== 'complete' ? 4 : s.drift.exceeded ? 3 : 0);
} catch (error) {
  console.error(`reconcile: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

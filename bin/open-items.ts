/**
 * `npm run open-items -- [--gateway g] [--category c] [--state open|settled|resolved] [--olderThanDays n] [--csv]`
 * lists open reconciliation items (every page), oldest first, with totals per currency.
 * `npm run open-items -- resolve <id> --reason <reason> --note "…"` resolves one.
 *
 * Talks to the sandbox's HTTP API (found through endpoints.json, or `--api <url>`), the same routes a
 * deployment serves behind IAM.
 */
import './cli-env.ts';
import { parseArgs } from 'node:util';
import { formatMajor, isCurrency } from '../functions/core/money.ts';
import type { OpenItemView } from '../functions/core/open-items/model.ts';
import { RESOLUTION_REASONS } from '../functions/core/open-items/model.ts';
import { openItemsCsv } from '../functions/core/open-items/render.ts';
import { readEndpoints } from './endpoints.ts';

const usage = `usage: npm run open-items -- [--gateway <name>] [--category <category>] [--state open|settled|resolved] [--olderThanDays <n>] [--csv]
       npm run open-items -- resolve <id> --reason <${RESOLUTION_REASONS.join('|')}> --note "…"`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    gateway: { type: 'string' },
    category: { type: 'string' },
    state: { type: 'string' },
    olderThanDays: { type: 'string' },
    'older-than-days': { type: 'string' },
    csv: { type: 'boolean', default: false },
    reason: { type: 'string' },
    note: { type: 'string' },
    api: { type: 'string' },
    endpoints: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(usage);
  process.exit(0);
}

interface ListBody {
  items: OpenItemView[];
  totals: Record<string, { count: number; amountMinor: number }>;
  nextToken?: string;
}

const money = (minor: number, currency: string | undefined) =>
  currency && isCurrency(currency) ? `${formatMajor(minor, currency)} ${currency}` : `${minor} (minor units)`;

async function call(api: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text };
  }
  return { status: res.status, json: json as Record<string, unknown> };
}

async function list(api: string): Promise<void> {
  const query = new URLSearchParams();
  if (values.gateway) query.set('gateway', values.gateway);
  if (values.category) query.set('category', values.category);
  if (values.state) query.set('state', values.state);
  const older = values.olderThanDays ?? values['older-than-days'];
  if (older !== undefined) query.set('olderThanDays', older);
  const items: OpenItemView[] = [];
  let totals: ListBody['totals'] = {};
  let token: string | undefined;
  do {
    if (token) query.set('nextToken', token);
    const res = await call(api, 'GET', `/reconciliation/open-items?${query}`);
    if (res.status !== 200) throw new Error(`the API answered ${res.status}: ${JSON.stringify(res.json)}`);
    const body = res.json as unknown as ListBody;
    items.push(...body.items);
    totals = body.totals;
    token = body.nextToken;
  } while (token);
  if (values.csv) {
    process.stdout.write(openItemsCsv(items));
    return;
  }
  const state = values.state ?? 'open';
  if (!items.length) {
    console.log(`no ${state} items`);
    return;
  }
  for (const i of items) {
    console.log(
      `${i.id}  ${i.category}  ${money(i.amountMinor, i.currency)}  ${i.ageDays}d  first seen in ${i.firstSeenFile}`,
    );
  }
  const sums = Object.entries(totals)
    .map(([c, t]) => `${c}: ${t.count} item(s), ${money(t.amountMinor, c)}`)
    .join('; ');
  console.log(`${items.length} ${state} item(s) — ${sums}`);
}

async function resolveOne(api: string): Promise<void> {
  const id = positionals[1];
  if (!id || !values.reason) {
    console.error(usage);
    process.exit(2);
  }
  const res = await call(api, 'POST', `/reconciliation/open-items/${encodeURIComponent(id)}/resolve`, {
    reason: values.reason,
    note: values.note ?? '',
  });
  if (res.status === 200) {
    console.log(`resolved ${id} (${values.reason}) by ${String(res.json.resolvedBy)}`);
    return;
  }
  const why =
    res.json.error === 'not_open'
      ? `it is already ${String(res.json.state ?? 'closed')}`
      : res.json.error === 'open_item_not_found'
        ? 'no such item'
        : JSON.stringify(res.json);
  console.error(`open-items: cannot resolve ${id}: ${why}`);
  process.exit(res.status === 404 || res.status === 409 ? 3 : 1);
}

try {
  const api = values.api ?? readEndpoints(values.endpoints).api;
  const command = positionals[0];
  if (command === 'resolve') await resolveOne(api);
  else if (command === undefined || command === 'list') await list(api);
  else {
    console.error(usage);
    process.exit(2);
  }
} catch (error) {
  console.error(`open-items: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

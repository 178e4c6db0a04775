/**
 * Which uploads are settlement files, and where their reports go (CONTRACT §5 "Outputs"). An upload
 * is `incoming/{gateway}/[folders/]{file}`; it reports to `reports/{gateway}/[folders/]{fileStem}/`.
 * Anything else under `incoming/` is rejected with its reason: a gateway that is not configured
 * exactly (`Stripe` is not `stripe`), or an empty, `.` or `..` segment, which could otherwise walk a
 * report out of its folder or onto another file's report.
 */
import { fileStem } from './report.ts';

export type UploadVerdict =
  | { readonly ok: true; readonly gateway: string; readonly reportPrefix: string }
  | { readonly ok: false; readonly reason: string };

const DOT_SEGMENTS = new Set(['', '.', '..']);

/**
 * The report prefix for `key`, or why it gets none. `gateways` are the configured gateway names;
 * a Set, so a key segment is never looked up as an object property.
 */
export function settlementUpload(
  key: string,
  gateways: ReadonlySet<string>,
  prefixes: { incoming: string; reports: string } = { incoming: 'incoming/', reports: 'reports/' },
): UploadVerdict {
  if (!key.startsWith(prefixes.incoming)) {
    return { ok: false, reason: `not under ${prefixes.incoming}` };
  }
  const segments = key.slice(prefixes.incoming.length).split('/');
  if (segments.length < 2) {
    return { ok: false, reason: `expected ${prefixes.incoming}{gateway}/{file}` };
  }
  const bad = segments.find((s) => DOT_SEGMENTS.has(s));
  if (bad !== undefined) {
    return {
      ok: false,
      reason: bad === '' ? 'the key has an empty segment' : `the key has a "${bad}" segment`,
    };
  }
  const gateway = segments[0]!;
  if (!gateways.has(gateway)) {
    return {
      ok: false,
      reason: `"${gateway}" is not a configured gateway (expected one of ${[...gateways].join(', ')})`,
    };
  }
  const stem = fileStem(key);
  if (DOT_SEGMENTS.has(stem)) {
    return { ok: false, reason: `the file name gives no report folder (stem "${stem}")` };
  }
  const folders = segments.slice(1, -1);
  return {
    ok: true,
    gateway,
    reportPrefix: `${prefixes.reports}${[gateway, ...folders, stem].join('/')}/`,
  };
}

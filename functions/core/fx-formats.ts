/**
 * What the FX providers answer, read exactly (CONTRACT §4 "Real providers"). Pure: text in, FxQuote out,
 * FxProviderError('invalid_response') for anything that is not the documented format.
 *
 * Each format's facts are written beside its parser, with the document they come from. Rates stay decimal
 * text from the wire to the store: a JSON number is kept as its source text (never `JSON.parse`d into a
 * float: 0.1 + 0.2 is not a rate), and the ECB's attribute values are decimal strings already.
 */
import { FxProviderError, type FxQuote } from './fx.ts';

// ---------------------------------------------------------------------------------------------------
// Formats (FX_PROVIDER)

export const FX_PROVIDERS = ['pairs', 'base-rates', 'ecb'] as const;
export type FxProviderKind = (typeof FX_PROVIDERS)[number];

export function isFxProviderKind(value: unknown): value is FxProviderKind {
  return typeof value === 'string' && (FX_PROVIDERS as readonly string[]).includes(value);
}

/** Where a JSON format keeps what we read (dotted paths, configurable per deployment). */
export interface JsonPaths {
  readonly rates: string;
  readonly asOf: string;
  readonly source: string;
  /** base-rates only: the currency every rate is quoted per one unit of. */
  readonly base: string;
}

/**
 * `pairs`, our own format (the sandbox's provider):
 * `{"source":"sandbox","asOf":"2026-12-02T05:00:00.000Z","rates":{"USD/CNY":"7.123400"}}`.
 * A missing `asOf` means "as of the fetch".
 */
export const PAIRS_DEFAULT_PATHS: JsonPaths = {
  rates: 'rates',
  asOf: 'asOf',
  source: 'source',
  base: 'base',
};

/**
 * `base-rates`: one base currency, every other currency per one unit of it.
 * - Open Exchange Rates, `GET https://openexchangerates.org/api/latest.json`
 *   (docs.openexchangerates.org/reference/latest-json):
 *   `{"disclaimer":"…","license":"…","timestamp":1746684010,"base":"USD","rates":{"AED":3.67299,…}}`;
 *   `timestamp` is UNIX seconds of the rates. Authentication (docs.openexchangerates.org/docs/authentication):
 *   the `app_id` query parameter, or the header `Authorization: Token YOUR_APP_ID` (used by default here so
 *   the key is in no URL). Errors (docs.openexchangerates.org/docs/errors): an HTTP 4xx with
 *   `{"error":true,"status":401,"message":"invalid_app_id","description":"…"}`. The entry plans update hourly
 *   and fix the base to USD.
 * - Fixer, `GET https://data.fixer.io/api/latest?access_key=…` (fixer.io/documentation): the key only as the
 *   `access_key` query parameter (`FX_PROVIDER_KEY_IN=query:access_key`);
 *   `{"success":true,"timestamp":1519296206,"base":"EUR","date":"2018-02-22","rates":{"USD":1.23396,…}}`.
 *   Fixer reports errors with HTTP 200 and `{"success":false,"error":{"code":101,"type":"…","info":"…"}}`.
 */
export const BASE_RATES_DEFAULT_PATHS: JsonPaths = {
  rates: 'rates',
  asOf: 'timestamp',
  source: 'source',
  base: 'base',
};

function invalid(message: string, cause?: unknown): FxProviderError {
  return new FxProviderError(message, 'invalid_response', cause === undefined ? undefined : { cause });
}

/** Parses a `pairs` answer. */
export function parsePairsAnswer(text: string, paths: JsonPaths, fetchedAt: Date, host: string): FxQuote {
  const body = parseExactJson(text);
  const rates = objectAt(body, paths.rates);
  const asOfValue = at(body, paths.asOf);
  const asOf = asOfValue === undefined ? fetchedAt : instant(asOfValue, paths.asOf);
  return {
    kind: 'pairs',
    source: sourceOf(body, paths.source, host),
    asOf: clampToFetch(asOf, fetchedAt),
    rates: plainRates(rates),
  };
}

/** Parses a `base-rates` answer (Open Exchange Rates, Fixer and alike). */
export function parseBaseRatesAnswer(text: string, paths: JsonPaths, fetchedAt: Date, host: string): FxQuote {
  const body = parseExactJson(text);
  // Fixer answers its errors with HTTP 200 and success:false; an OXR-style `error: true` likewise.
  if (at(body, 'success') === false || at(body, 'error') === true) {
    const type = at(body, 'error.type') ?? at(body, 'message');
    throw invalid(`provider reported an error${typeof type === 'string' ? ` (${type.slice(0, 60)})` : ''}`);
  }
  const rates = objectAt(body, paths.rates);
  const base = at(body, paths.base);
  if (typeof base !== 'string' || !/^[A-Z]{3}$/.test(base)) {
    throw invalid(`no base currency at "${paths.base}"`);
  }
  const asOfValue = at(body, paths.asOf);
  if (asOfValue === undefined) throw invalid(`no timestamp at "${paths.asOf}"`);
  return {
    kind: 'base',
    base,
    source: sourceOf(body, paths.source, host),
    asOf: clampToFetch(instant(asOfValue, paths.asOf), fetchedAt),
    rates: plainRates(rates),
  };
}

// ---------------------------------------------------------------------------------------------------
// ECB

/**
 * The ECB's daily euro reference rates, `GET https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml`
 * (ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html), no key:
 * ```xml
 * <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
 *   <gesmes:subject>Reference rates</gesmes:subject>
 *   <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
 *   <Cube><Cube time='2024-12-02'><Cube currency='USD' rate='1.0478'/>…</Cube></Cube>
 * </gesmes:Envelope>
 * ```
 * EUR is the base (1 EUR = rate units). "The reference rates are usually updated around 16:00 CET on every
 * working day, except on TARGET closing days. They are based on a regular daily concertation procedure
 * between central banks across Europe, which normally takes place at 14:15 CET." So the rates of `time` are
 * as of 14:15 Frankfurt time that day (CET, or CEST in summer), and the next ones can be five days away
 * (Maundy Thursday to the Tuesday after Easter Monday).
 */
export function parseEcbAnswer(text: string, fetchedAt: Date): FxQuote {
  const root = parseStrictXml(text);
  if (localName(root.name) !== 'Envelope') throw invalid(`ECB answer's root is <${root.name}>, not Envelope`);
  const outer = root.children.filter((c) => c.name === 'Cube');
  if (outer.length !== 1) throw invalid('ECB answer has no single outer <Cube>');
  const days = outer[0]!.children.filter((c) => c.name === 'Cube');
  if (days.length !== 1) throw invalid(`ECB daily answer has ${days.length} <Cube time> elements, not one`);
  const day = days[0]!;
  const time = day.attributes.time;
  if (time === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(time) || Number.isNaN(Date.parse(time))) {
    throw invalid('ECB <Cube time> is not a date');
  }
  const rates: Record<string, string> = Object.create(null);
  for (const cube of day.children) {
    const { currency, rate } = cube.attributes;
    if (cube.name !== 'Cube' || currency === undefined || rate === undefined) {
      throw invalid('ECB rate element is not <Cube currency rate>');
    }
    if (!/^[A-Z]{3}$/.test(currency)) throw invalid('ECB currency is not a 3-letter code');
    if (Object.hasOwn(rates, currency)) throw invalid(`ECB answer lists ${currency} twice`);
    rates[currency] = rate;
  }
  return {
    kind: 'base',
    base: 'EUR',
    source: 'ecb',
    asOf: clampToFetch(new Date(ecbConcertationUtc(time)), fetchedAt),
    rates,
  };
}

/** 14:15 Frankfurt time on `date` (YYYY-MM-DD) in UTC milliseconds: 13:15Z under CET, 12:15Z under CEST. */
export function ecbConcertationUtc(date: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const winter = Date.UTC(y, m - 1, d, 13, 15);
  // EU summer time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October.
  const lastSunday = (month: number) => {
    const last = new Date(Date.UTC(y, month + 1, 0, 1));
    return last.getTime() - last.getUTCDay() * 86_400_000;
  };
  const summer = winter >= lastSunday(2) && winter < lastSunday(9);
  return summer ? winter - 3_600_000 : winter;
}

// ---------------------------------------------------------------------------------------------------
// JSON, numbers kept as text

/** A JSON number as its source text (RFC 8259 grammar), so no digit is lost to a float. */
export class JsonNumber {
  constructor(readonly text: string) {}
  /** The number as a plain decimal string ("1.2e-5" → "0.000012"), exactly. */
  toDecimal(): string {
    const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(this.text)!;
    const [, sign = '', int = '', frac = '', exp = '0'] = m;
    const e = Number(exp);
    if (Math.abs(e) > 400) throw invalid('number exponent out of range');
    let digits = int + frac;
    let point = int.length + e;
    if (point <= 0) {
      digits = '0'.repeat(1 - point) + digits;
      point = 1;
    } else if (point > digits.length) {
      digits = digits + '0'.repeat(point - digits.length);
    }
    const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
    const rest = digits.slice(point);
    return `${sign}${whole}${rest ? `.${rest}` : ''}`;
  }
}

export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | { [key: string]: ExactJson };

const MAX_DEPTH = 64;

/**
 * A strict RFC 8259 parser that keeps numbers as JsonNumber. Objects have no prototype and a duplicate key
 * is an error (two values for one currency would make the answer ambiguous).
 */
export function parseExactJson(text: string): ExactJson {
  let i = 0;
  const fail = (what: string): never => {
    throw invalid(`provider answer is not JSON (${what} at ${i})`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (depth: number): ExactJson => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, ExactJson> = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        if (Object.hasOwn(out, key)) fail(`duplicate key ${JSON.stringify(key.slice(0, 20))}`);
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        out[key] = value(depth + 1);
        ws();
        const next = text[i++];
        if (next === '}') return out;
        if (next !== ',') fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const out: ExactJson[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        const next = text[i++];
        if (next === ']') return out;
        if (next !== ',') fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const num = m.exec(text);
    if (!num || num[0] === '' || num[0] === '-') return fail('unexpected character');
    i += num[0].length;
    return new JsonNumber(num[0]);
  };
  const string = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) fail('unterminated string');
      if (c === '"') return out;
      if (c === '\\') {
        const e = text[i++];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && Object.hasOwn(simple, e)) out += simple[e];
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) {
          out += String.fromCharCode(Number.parseInt(text.slice(i, i + 4), 16));
          i += 4;
        } else fail('bad escape');
      } else if (c! < ' ') {
        fail('control character in string');
      } else out += c;
    }
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing data');
  return result;
}

function at(value: ExactJson, path: string): ExactJson | undefined {
  let node: ExactJson | undefined = value;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || node instanceof JsonNumber || Array.isArray(node)) {
      return undefined;
    }
    if (!Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, ExactJson>)[part];
  }
  return node;
}

function objectAt(body: ExactJson, path: string): Record<string, ExactJson> {
  const rates = at(body, path);
  if (rates === null || typeof rates !== 'object' || Array.isArray(rates) || rates instanceof JsonNumber) {
    throw invalid(`no rates object at "${path}"`);
  }
  return rates;
}

/** Numbers become exact decimal text; strings stay; anything else stays as it is, to be refused as non-numeric. */
function plainRates(rates: Record<string, ExactJson>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(rates)) {
    out[key] = value instanceof JsonNumber ? value.toDecimal() : value;
  }
  return out;
}

function sourceOf(body: ExactJson, path: string, host: string): string {
  const value = at(body, path);
  return typeof value === 'string' && value ? value.slice(0, 64) : host;
}

/** An ISO 8601 string, or a JSON integer of UNIX seconds (Open Exchange Rates, Fixer). */
function instant(value: ExactJson, path: string): Date {
  if (value instanceof JsonNumber) {
    if (!/^\d{1,12}$/.test(value.text)) throw invalid(`"${path}" is not UNIX seconds`);
    return new Date(Number(value.text) * 1000);
  }
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(Date.parse(value));
  throw invalid(`"${path}" is not a timestamp`);
}

/** A provider clock ahead of ours would make its rates look younger than they are: clamp to the fetch time. */
function clampToFetch(asOf: Date, fetchedAt: Date): string {
  return new Date(Math.min(asOf.getTime(), fetchedAt.getTime())).toISOString();
}

// ---------------------------------------------------------------------------------------------------
// XML, the little the ECB file needs

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
}

/**
 * A strict, tiny XML reader for the ECB file, on purpose instead of a library: the document is ~2 KB with a
 * fixed shape, and all we need is elements and attributes. A general parser would add bundle weight to the
 * orders function (which runs the live check) and the attack surface of DTDs and entity expansion; this one
 * refuses any `<!DOCTYPE`/`<!ENTITY`, CDATA and processing instruction other than the XML declaration,
 * knows only the five predefined entities and character references, and checks that every tag closes in
 * order. Text content is ignored (the ECB puts nothing we use there).
 */
export function parseStrictXml(text: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw invalid(`provider answer is not well-formed XML (${what} at ${i})`);
  };
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (src.startsWith('<?xml')) {
    const end = src.indexOf('?>');
    if (end < 0) fail('unterminated XML declaration');
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const NAME = /[A-Za-z_][\w.:-]*/y;
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const ws = () => {
    while (i < src.length && ' \t\n\r'.includes(src[i]!)) i++;
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textRun = src.slice(i, lt < 0 ? src.length : lt);
    if (textRun.trim() && stack.length === 0) fail('text outside the root element');
    if (textRun.includes('>')) fail('stray ">"');
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src.startsWith('<!', i) || src.startsWith('<?', i)) fail('DTD, CDATA or processing instruction');
    if (src.startsWith('</', i)) {
      i += 2;
      const closing = name();
      ws();
      if (src[i++] !== '>') fail('expected ">"');
      const open = stack.pop();
      if (!open || open.name !== closing) fail(`</${closing}> does not close the open element`);
      continue;
    }
    i++;
    if (root && stack.length === 0) fail('a second root element');
    const element: XmlElement = { name: name(), attributes: Object.create(null), children: [] };
    for (;;) {
      const before = i;
      ws();
      if (src.startsWith('/>', i)) {
        i += 2;
        attach(element, false);
        break;
      }
      if (src[i] === '>') {
        i++;
        attach(element, true);
        break;
      }
      if (i === before) fail('expected whitespace before an attribute');
      const attr = name();
      ws();
      if (src[i++] !== '=') fail('expected "="');
      ws();
      const quote = src[i++];
      if (quote !== '"' && quote !== "'") fail('attribute value not quoted');
      const end = src.indexOf(quote!, i);
      if (end < 0) fail('unterminated attribute value');
      const raw = src.slice(i, end);
      if (raw.includes('<')) fail('"<" in an attribute value');
      i = end + 1;
      if (Object.hasOwn(element.attributes, attr)) fail(`duplicate attribute ${attr}`);
      (element.attributes as Record<string, string>)[attr] = decodeEntities(raw, fail);
    }
  }
  if (stack.length) fail(`<${stack.at(-1)!.name}> is never closed`);
  if (!root) return fail('no root element');
  return root;

  function attach(element: XmlElement, open: boolean) {
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else root = element;
    if (open) stack.push(element);
  }
}

function decodeEntities(raw: string, fail: (what: string) => never): string {
  return raw.replace(/&([^;]*);?/g, (whole, entity: string) => {
    if (!whole.endsWith(';')) return fail('"&" without an entity');
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (Object.hasOwn(named, entity)) return named[entity]!;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|(\d{1,7}))$/.exec(entity);
    if (!num) return fail(`unknown entity &${entity.slice(0, 10)};`);
    const code = num[1] ? Number.parseInt(num[1], 16) : Number(num[2]);
    if (code > 0x10ffff) return fail('character reference out of range');
    return String.fromCodePoint(code);
  });
}

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

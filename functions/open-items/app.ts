/**
 * The open-items API (CONTRACT §5): `GET /reconciliation/open-items` (filters, totals over the whole
 * filter, pages) and `POST /reconciliation/open-items/{id}/resolve` (a person's resolution, with who
 * from the caller's IAM principal; `sandbox` in the sandbox, whose routes carry no authorizer).
 */
import * as z from 'zod/mini';
import { bucket as bucketDef } from '../../lib/settings.ts';
import { createDocumentClient, createDynamoClient } from '../adapters/aws-clients.ts';
import { BadCursorError, DynamoOpenItemsStore, S3OpenItemsReports } from '../adapters/open-items-store.ts';
import { createObjectStore } from '../adapters/s3-objects.ts';
import {
  MAX_NOTE_CHARS,
  NotOpenError,
  OPEN_ITEM_STATES,
  OpenItemNotFoundError,
  RESOLUTION_REASONS,
} from '../core/open-items/model.ts';
import { listItems, type OpenItemsDeps, resolveItem } from '../core/open-items/use-cases.ts';
import { CATEGORIES } from '../core/settlement/types.ts';
import { type Env, readConfig, required } from '../shared/config.ts';
import {
  HttpError,
  type HttpEvent,
  type HttpResult,
  json,
  rawBody,
  toErrorResponse,
} from '../shared/http.ts';

const ConfigSchema = z.object({
  OPEN_ITEMS_TABLE: required(),
  SETTLEMENTS_BUCKET: required(),
});

const ITEM_CATEGORIES = CATEGORIES.filter((c) => c !== 'matched' && c !== 'ignored');
const DEFAULT_PAGE = 50;
const MAX_PAGE = 100;

export const ResolveBody = z.strictObject({
  reason: z.enum(RESOLUTION_REASONS),
  note: z._default(z.string().check(z.maxLength(MAX_NOTE_CHARS)), ''),
});

export interface OpenItemsHandlerDeps extends OpenItemsDeps {
  readonly now: () => Date;
}

interface Detail {
  readonly path: string;
  readonly message: string;
}

function invalid(details: Detail[]): HttpError {
  return new HttpError(400, { error: 'validation_error', details });
}

function parseList(event: HttpEvent) {
  const q = event.queryStringParameters ?? {};
  const details: Detail[] = [];
  const known = new Set(['gateway', 'category', 'state', 'olderThanDays', 'nextToken', 'limit']);
  for (const k of Object.keys(q)) if (!known.has(k)) details.push({ path: k, message: 'unknown parameter' });
  const state = q.state ?? 'open';
  if (!(OPEN_ITEM_STATES as readonly string[]).includes(state)) {
    details.push({ path: 'state', message: `must be one of ${OPEN_ITEM_STATES.join(', ')}` });
  }
  if (q.category !== undefined && !(ITEM_CATEGORIES as readonly string[]).includes(q.category)) {
    details.push({ path: 'category', message: `must be one of ${ITEM_CATEGORIES.join(', ')}` });
  }
  if (q.gateway !== undefined && !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(q.gateway)) {
    details.push({ path: 'gateway', message: 'must be a gateway name such as "stripe"' });
  }
  const int = (name: string, value: string | undefined, min: number, max: number) => {
    if (value === undefined) return undefined;
    const n = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max))
      details.push({ path: name, message: `must be a whole number ${min}–${max}` });
    return n;
  };
  const olderThanDays = int('olderThanDays', q.olderThanDays, 0, 36_500);
  const limit = int('limit', q.limit, 1, MAX_PAGE) ?? DEFAULT_PAGE;
  if (details.length) throw invalid(details);
  return {
    state: state as (typeof OPEN_ITEM_STATES)[number],
    ...(q.gateway ? { gateway: q.gateway } : {}),
    ...(q.category ? { category: q.category as (typeof ITEM_CATEGORIES)[number] } : {}),
    ...(olderThanDays !== undefined ? { olderThanDays } : {}),
    ...(q.nextToken ? { cursor: q.nextToken } : {}),
    limit,
  };
}

function parseResolve(event: HttpEvent) {
  let input: unknown;
  try {
    input = JSON.parse(rawBody(event).toString('utf8'));
  } catch {
    throw invalid([{ path: '', message: 'body must be valid JSON' }]);
  }
  const result = ResolveBody.safeParse(input);
  if (result.success) return result.data;
  throw invalid(
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message:
        issue.path[0] === 'reason'
          ? `must be one of ${RESOLUTION_REASONS.join(', ')}`
          : issue.path[0] === 'note'
            ? `must be text of at most ${MAX_NOTE_CHARS} characters`
            : issue.code === 'unrecognized_keys'
              ? `unknown key(s): ${issue.keys.join(', ')}`
              : 'is invalid',
    })),
  );
}

/** The caller: its IAM principal in AWS; the sandbox's routes are open and carry none. */
function callerOf(event: HttpEvent): string {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam;
  return iam?.userArn ?? 'sandbox';
}

function itemIdOf(event: HttpEvent): string {
  let id = event.pathParameters?.id ?? '';
  // Ids hold `#`, so clients URL-encode them; decode once more if a proxy left them encoded.
  if (/%[0-9a-f]{2}/i.test(id)) {
    try {
      id = decodeURIComponent(id);
    } catch {
      /* not encoded after all */
    }
  }
  if (!id || id.length > 2048) throw new HttpError(404, { error: 'open_item_not_found' });
  return id;
}

export function createHandler(env: Env, overrides: Partial<OpenItemsHandlerDeps> = {}) {
  const config = readConfig(ConfigSchema, env);
  const doc = createDocumentClient(createDynamoClient(env));
  const deps: OpenItemsHandlerDeps = {
    store: overrides.store ?? new DynamoOpenItemsStore(doc, config.OPEN_ITEMS_TABLE),
    reports:
      overrides.reports ??
      new S3OpenItemsReports(createObjectStore(env), config.SETTLEMENTS_BUCKET, bucketDef.reportsPrefix),
    now: overrides.now ?? (() => new Date()),
  };

  const routes: Record<string, (event: HttpEvent) => Promise<HttpResult>> = {
    'GET /reconciliation/open-items': async (event) =>
      json(200, await listItems(deps, parseList(event), deps.now())),
    'POST /reconciliation/open-items/{id}/resolve': async (event) => {
      const id = itemIdOf(event);
      const body = parseResolve(event);
      return json(200, await resolveItem(deps, id, body, callerOf(event), deps.now()));
    },
  };

  return async (event: HttpEvent): Promise<HttpResult> => {
    try {
      const route = routes[event.routeKey];
      if (!route) return json(404, { error: 'route_not_found' });
      return await route(event);
    } catch (error) {
      return toHttp(error);
    }
  };
}

/** The one place errors become HTTP responses. */
function toHttp(error: unknown): HttpResult {
  if (error instanceof OpenItemNotFoundError) return json(404, { error: 'open_item_not_found' });
  if (error instanceof NotOpenError) return json(409, { error: 'not_open', state: error.state });
  if (error instanceof BadCursorError) {
    return json(400, { error: 'validation_error', details: [{ path: 'nextToken', message: error.message }] });
  }
  if (!(error instanceof HttpError)) console.error('open-items request failed', error);
  return toErrorResponse(error);
}

/** The content-type check every gateway runs first (after the handler's size check). */
import { UnsupportedMediaTypeError } from './errors.ts';
import type { ContentKind } from './types.ts';

const MEDIA_TYPES: Record<ContentKind, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

const UTF8 = new Set(['utf-8', 'utf8']);

/**
 * Accepts the gateway's media type with optional parameters (`; charset=utf-8`), case-insensitively,
 * and returns the declared charset (lower-cased) if any. JSON must be UTF-8 (RFC 8259), so another
 * charset is refused there; form bodies may declare another charset, which the gateway decides on.
 * @throws UnsupportedMediaTypeError when the header is missing or names another type.
 */
export function assertContentType(
  expected: ContentKind,
  header: string | undefined,
  gateway?: string,
): string | undefined {
  if (!header) throw new UnsupportedMediaTypeError('missing content-type', { gateway });
  const [mediaType = '', ...params] = header.split(';');
  if (mediaType.trim().toLowerCase() !== MEDIA_TYPES[expected]) {
    throw new UnsupportedMediaTypeError(`expected ${MEDIA_TYPES[expected]}`, { gateway });
  }
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  if (expected === 'json' && charset !== undefined && !UTF8.has(charset)) {
    throw new UnsupportedMediaTypeError('JSON must be utf-8', { gateway });
  }
  return charset;
}

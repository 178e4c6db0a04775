import type { Env } from '../shared/config.ts';
import { json } from '../shared/http.ts';

/** `GET /health`: liveness only; it touches no table so it stays cheap under load. */
export function createHandler(_env: Env) {
  return async () => json(200, { status: 'ok' });
}

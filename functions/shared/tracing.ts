/**
 * Powertools Tracer for the callback functions: X-Ray subsegments for every DynamoDB call and the
 * handler, annotated with gateway and outcome so a slow or failing delivery can be found by either.
 * Only the callback functions carry it: it adds ~124 KB to a bundle (measured), which the other
 * functions' Lambda-level X-Ray segments do without. Disabled in the sandbox and tests
 * (`POWERTOOLS_TRACE_ENABLED=false`), where there is no X-Ray daemon.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Env } from './config.ts';

export function createTracer(env: Env, fallbackService: string): Tracer {
  return new Tracer({
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? fallbackService,
    enabled: env.POWERTOOLS_TRACE_ENABLED !== 'false',
  });
}

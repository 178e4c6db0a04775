/**
 * Powertools Logger and Metrics for one handler, configured from the handler's own environment (the
 * sandbox runs several functions in one process, each with its own env).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { customMetrics } from '../../lib/settings.ts';
import type { Env } from './config.ts';

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT', 'CRITICAL'] as const;
type Level = (typeof LEVELS)[number];

export function createObservability(env: Env, fallbackService: string) {
  const serviceName = env.POWERTOOLS_SERVICE_NAME ?? fallbackService;
  const level = (env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase();
  const logger = new Logger({
    serviceName,
    logLevel: (LEVELS as readonly string[]).includes(level) ? (level as Level) : 'INFO',
  });
  const metrics = new Metrics({ namespace: customMetrics.namespace, serviceName });
  return { logger, metrics };
}

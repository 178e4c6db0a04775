/**
 * Alerts go to EventBridge in AWS (`ALERT_SINK=aws`): one `PutEvents` on the default bus, where a rule
 * (lib/constructs/alerting.ts) fans each one out to the SNS topic people subscribe to. In the sandbox
 * (`ALERT_SINK=local`) they go to an in-process list served at `GET /_sandbox/alerts`.
 *
 * One signed `PutEvents` call (eventbridge-alerts.ts) instead of an SNS and an EventBridge client in every
 * function, set up at the first alert, not at cold start: alerts are rare and off the happy path.
 */
import { alertSource } from '../../lib/settings.ts';
import type { Alerts, AlertType } from '../core/alerts.ts';
import type { Env } from '../shared/config.ts';
import { createEventBridgePublisher } from './eventbridge-alerts.ts';

export interface RecordedAlert {
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
  readonly at: string;
}

/** The sandbox's alert list, oldest first. One per process, shared by every in-process handler. */
export const localAlerts: RecordedAlert[] = [];

export class LocalAlerts implements Alerts {
  async raise(detailType: AlertType, detail: Record<string, unknown>): Promise<void> {
    localAlerts.push({ detailType, detail, at: new Date().toISOString() });
  }
}

/** Alert delivery failed (EventBridge refused the entry); callers log it and carry on. */
export class AlertDeliveryError extends Error {
  readonly detailType: string;
  constructor(message: string, detailType: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertDeliveryError';
    this.detailType = detailType;
  }
}

type Publish = ReturnType<typeof createEventBridgePublisher>;

export class AwsAlerts implements Alerts {
  private publish: Publish | undefined;
  constructor(
    private readonly eventBus: string,
    private readonly env: Env = process.env,
  ) {}

  async raise(detailType: AlertType, detail: Record<string, unknown>): Promise<void> {
    this.publish ??= createEventBridgePublisher(this.env);
    const failed = await this.publish({
      source: alertSource,
      detailType,
      detail: JSON.stringify(detail),
      eventBus: this.eventBus,
    });
    // An unsent alert must not look sent: the caller logs it.
    if (failed)
      throw new AlertDeliveryError(`alert not accepted: ${failed.ErrorCode ?? 'unknown'}`, detailType);
  }
}

/** Chooses the sink from `ALERT_SINK` (`aws` by default; `ALERT_EVENT_BUS` defaults to `default`). */
export function createAlerts(env: Env): Alerts {
  const sink = env.ALERT_SINK ?? 'aws';
  if (sink === 'local') return new LocalAlerts();
  if (sink !== 'aws') throw new Error(`ALERT_SINK: must be "aws" or "local", got ${JSON.stringify(sink)}`);
  return new AwsAlerts(env.ALERT_EVENT_BUS ?? 'default', env);
}

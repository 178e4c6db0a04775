/**
 * Alerts go to an SNS topic (humans) and EventBridge (automation) in AWS (`ALERT_SINK=aws`), and to an
 * in-process list the sandbox serves at `GET /_sandbox/alerts` (`ALERT_SINK=local`).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { alertSource } from '../../lib/topology.ts';
import type { Alerts, AlertType } from '../core/alerts.ts';
import type { Env } from '../shared/config.ts';

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

export class AwsAlerts implements Alerts {
  private readonly sns = new SNSClient({});
  private readonly events = new EventBridgeClient({});
  constructor(
    private readonly topicArn: string,
    private readonly eventBus: string,
  ) {}

  async raise(detailType: AlertType, detail: Record<string, unknown>): Promise<void> {
    // Both, concurrently: a human pager and machine consumers must not depend on each other.
    await Promise.all([
      this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `[daigou-payments] ${detailType}`.slice(0, 99),
          Message: JSON.stringify({ detailType, detail }, null, 2),
        }),
      ),
      this.events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: alertSource,
              DetailType: detailType,
              Detail: JSON.stringify(detail),
              EventBusName: this.eventBus,
            },
          ],
        }),
      ),
    ]);
  }
}

/** Chooses the sink from `ALERT_SINK`; `aws` needs `ALERT_TOPIC_ARN`. */
export function createAlerts(env: Env): Alerts {
  const sink = env.ALERT_SINK ?? 'aws';
  if (sink === 'local') return new LocalAlerts();
  if (sink !== 'aws') throw new Error(`ALERT_SINK: must be "aws" or "local", got ${JSON.stringify(sink)}`);
  const topic = env.ALERT_TOPIC_ARN;
  if (!topic) throw new Error('ALERT_TOPIC_ARN: is required when ALERT_SINK=aws (not set)');
  return new AwsAlerts(topic, env.ALERT_EVENT_BUS ?? 'default');
}

/**
 * The EventBridge half of the alert adapter: `PutEvents` only, so the bundle keeps that one command's
 * schema. The client is created by the first call to `createEventBridgePublisher` (the first alert).
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';

export interface AlertEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: string;
  readonly eventBus: string;
}

export function createEventBridgePublisher(): (
  event: AlertEvent,
) => Promise<PutEventsResultEntry | undefined> {
  const client = new EventBridgeClient({});
  return async (e) => {
    const out = await client.send(
      new PutEventsCommand({
        Entries: [{ Source: e.source, DetailType: e.detailType, Detail: e.detail, EventBusName: e.eventBus }],
      }),
    );
    // PutEvents answers 200 with per-entry failures: hand the failed entry back.
    return out.FailedEntryCount ? (out.Entries?.[0] ?? {}) : undefined;
  };
}

/**
 * The EventBridge half of the alert adapter: `PutEvents` on the bus, through the JSON-protocol call of
 * aws-json.ts (no EventBridge SDK client in the bundles). Created by the first alert.
 */
import { awsJsonClient, EVENTBRIDGE } from './aws-json.ts';

export interface AlertEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: string;
  readonly eventBus: string;
}

/** A `PutEvents` result entry: `EventId`, or `ErrorCode` and `ErrorMessage` when it was refused. */
export interface PutEventsResultEntry {
  readonly EventId?: string;
  readonly ErrorCode?: string;
  readonly ErrorMessage?: string;
}

export function createEventBridgePublisher(
  env: Readonly<Record<string, string | undefined>> = process.env,
): (event: AlertEvent) => Promise<PutEventsResultEntry | undefined> {
  const call = awsJsonClient(EVENTBRIDGE, env);
  return async (e) => {
    const out = await call<{ FailedEntryCount?: number; Entries?: PutEventsResultEntry[] }>('PutEvents', {
      Entries: [{ Source: e.source, DetailType: e.detailType, Detail: e.detail, EventBusName: e.eventBus }],
    });
    // PutEvents answers 200 with per-entry failures: hand the failed entry back.
    return out.FailedEntryCount ? (out.Entries?.[0] ?? {}) : undefined;
  };
}

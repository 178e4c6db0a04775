/** The alert port (CONTRACT §6). Adapters: SNS + EventBridge in AWS, an in-process list in the sandbox. */

export const ALERT_TYPES = [
  'Reconciliation Drift Exceeded',
  'Double Payment',
  'Callback Quarantined',
  'FX Rate Jump',
  'FX Provider Rejected',
  'Refund Buffer Negative',
  'Unsolicited Refund',
  'Refund Exceeds Paid',
  'Amount Mismatch',
  'Unmatched Payment',
  'Refund Failed',
  'Refund Abnormal',
  'Dispute Reinstated',
  'Settlement Upload Rejected',
  'Open Items Aging',
] as const;

export type AlertType = (typeof ALERT_TYPES)[number];

export interface Alerts {
  raise(detailType: AlertType, detail: Record<string, unknown>): Promise<void>;
}

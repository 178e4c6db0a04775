/**
 * Settlement reconciliation core (CONTRACT §5): streaming parsers for Stripe, PayPal STL, Alipay,
 * WeChat Pay and the generic CSV; matching against the ledger through {@link LedgerLookup}; the
 * summary.json / exceptions.csv / report.html builders. No AWS SDK here: the handler injects the port.
 */
export { type DecodeInfo, decodeText, sniffEncoding, type TextEncodingName } from './decode.ts';
export {
  SettlementConfigError,
  SettlementError,
  SettlementFormatError,
  SettlementRowError,
} from './errors.ts';
export {
  expectedFee,
  type FeeRule,
  type FeeSchedule,
  gatewayDaysBetween,
  LEDGER_BATCH_SIZE,
  type LedgerLookup,
  Matcher,
  type MatchOutcome,
} from './match.ts';
export {
  formatForGateway,
  type ParseOutcome,
  readSettlementBatches,
  readSettlementRows,
  SettlementParser,
} from './parse.ts';
export {
  DEFAULT_LAG_DAYS,
  DEFAULT_THRESHOLD,
  type ReconcileInput,
  type ReconcileResult,
  reconcile,
} from './reconcile.ts';
export {
  computeDrift,
  csvField,
  escapeHtml,
  exceptionsCsv,
  fileStem,
  renderHtml,
  verdictOf,
} from './report.ts';
export * from './types.ts';

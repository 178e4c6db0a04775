/**
 * The settlement module's one error hierarchy. Callers branch with `instanceof` (bundles mangle names).
 *
 * - {@link SettlementFormatError}: the file cannot be read as its format → the report is `failed`.
 * - {@link SettlementRowError}: one row cannot be read → a `rejected` row, never a dropped one.
 * - {@link SettlementConfigError}: the caller passed a bad threshold, fee schedule or lag.
 *
 * Errors from the ledger port are not wrapped: they are transient (throttling, network) and the
 * Lambda should fail and be retried, not write a report that says the ledger was empty.
 */
export class SettlementError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SettlementError';
  }
}

/** The file is not readable as the format its gateway prefix names (or not at all). */
export class SettlementFormatError extends SettlementError {
  /** 1-based line where reading stopped, when known. */
  readonly line: number | undefined;
  constructor(message: string, options?: { cause?: unknown; line?: number }) {
    super(message, options);
    this.name = 'SettlementFormatError';
    this.line = options?.line;
  }
}

/** One row cannot be parsed; becomes a `rejected` exception with its line number and this message. */
export class SettlementRowError extends SettlementError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SettlementRowError';
  }
}

/** Invalid reconciliation options (threshold, fee schedule, lag days). */
export class SettlementConfigError extends SettlementError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SettlementConfigError';
  }
}

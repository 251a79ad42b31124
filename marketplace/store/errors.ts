/** A store failure: bad input (nothing was written), an unknown schema version, an overflowing total. */
export class StoreError extends Error {
  override name = "StoreError";
  /** Machine-readable specifics (the offending event id, field…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.details = details;
  }
}

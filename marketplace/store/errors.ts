import { BaseError } from "../errors/base.ts";

/** A store failure: bad input (nothing was written), an unknown schema version, an overflowing total. */
export class StoreError extends BaseError {
  override name = "StoreError";

  constructor(message: string, facts: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, { facts, cause });
  }
}

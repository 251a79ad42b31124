import { BaseError } from "../errors/base.ts";

/** Invalid input to a rating function: a bad rate, a negative quantity, an unknown granularity. */
export class RatingError extends BaseError {
  override name = "RatingError";

  constructor(message: string, facts: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, { facts, cause });
  }
}

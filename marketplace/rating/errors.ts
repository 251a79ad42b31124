/** Invalid input to a rating function: a bad rate, a negative quantity, an unknown granularity. */
export class RatingError extends Error {
  override name = "RatingError";
  /** Machine-readable specifics (the offending meter, value…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(message);
    this.details = details;
  }
}

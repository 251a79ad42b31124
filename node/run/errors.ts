/** A job could not be started or its files handled: bad options, unsafe paths, no sandbox. */
export class RunError extends Error {
  override name = "RunError";
  /** Machine-readable specifics (the offending path, option…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.details = details;
  }
}

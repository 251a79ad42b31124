import { BaseError } from "../../marketplace/errors/base.ts";

/** A job could not be started or its files handled: bad options, unsafe paths, no sandbox. */
export class RunError extends BaseError {
  override name = "RunError";

  constructor(message: string, facts: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, { facts, cause });
  }
}

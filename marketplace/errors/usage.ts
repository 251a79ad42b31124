import { BaseError } from "./base.ts";

/** Bad input from a person: a flag, an argument, a config file. The CLI exits with 2. */
export class UsageError extends BaseError {
  override name = "UsageError";
}

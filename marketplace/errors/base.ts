/** Options shared by every gridspot error. */
export type BaseErrorParameters = {
  /** A longer explanation, or what the underlying failure said. */
  details?: string | undefined;
  /** Lines shown between the short message and the details (hints, context). */
  metaMessages?: readonly string[] | undefined;
  /** The error this one wraps. */
  cause?: unknown;
  /** Machine-readable specifics (the offending path, field, value…), for code that acts on them. */
  facts?: Readonly<Record<string, unknown>> | undefined;
};

/**
 * The root of gridspot's errors (after viem's `BaseError`): a one-line `shortMessage` a person can
 * act on, optional hint lines, the underlying `details`, and the wrapped `cause`. Subclasses set a
 * stable `name`; the CLI and the HTTP API turn names into exit codes and status codes at the edge.
 */
export class BaseError extends Error {
  override name = "BaseError";
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly metaMessages: readonly string[];
  readonly facts: Readonly<Record<string, unknown>>;

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details =
      parameters.details ??
      (parameters.cause instanceof BaseError
        ? parameters.cause.shortMessage
        : parameters.cause instanceof Error
          ? parameters.cause.message
          : undefined);
    const metaMessages = parameters.metaMessages ?? [];
    const lines = [shortMessage];
    if (metaMessages.length > 0) lines.push("", ...metaMessages);
    if (details !== undefined && details !== "" && details !== shortMessage)
      lines.push("", `Details: ${details}`);
    super(lines.join("\n"), parameters.cause === undefined ? undefined : { cause: parameters.cause });
    this.shortMessage = shortMessage;
    this.details = details;
    this.metaMessages = metaMessages;
    this.facts = parameters.facts ?? {};
  }

  /** The innermost cause for which `predicate` holds (the deepest cause when none is given). */
  walk(predicate?: (error: unknown) => boolean): unknown {
    let current: unknown = this;
    let found: unknown = predicate === undefined || predicate(this) ? this : undefined;
    while (current instanceof Error && current.cause !== undefined) {
      current = current.cause;
      if (predicate === undefined || predicate(current)) found = current;
    }
    return found;
  }
}

import { BaseError, type BaseErrorParameters } from "./base.ts";

/**
 * What went wrong with a file of a job's inputs or outputs, as one stable word: a provider's
 * refusal carries it (`input-<code>`), a submitter's dropped output names it.
 */
export type TransferErrorCode =
  /** Absolute, `..`, NUL, repeated, or a symlink or non-folder on its way. */
  | "bad-path"
  | "size-mismatch"
  | "sha256-mismatch"
  /** A chunk for the wrong file or at the wrong offset. */
  | "chunk-order"
  /** A frame that has no place in the transfer (or fails its schema). */
  | "unexpected-frame"
  /** More files or bytes than the limit. */
  | "too-large"
  | "read-failed"
  | "write-failed"
  /** The stream closed or went silent. */
  | "stream"
  /** The submitter cancelled before the job started. */
  | "cancelled";

/** A job's files could not be listed, sent or received; `code` says why in one word. */
export class TransferError extends BaseError {
  override name = "TransferError";
  readonly code: TransferErrorCode;

  constructor(code: TransferErrorCode, shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
    this.code = code;
  }
}

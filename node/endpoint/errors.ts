import { BaseError, type BaseErrorParameters } from "../../marketplace/errors/base.ts";
import type { HttpErrorCode } from "../../marketplace/messages/http.ts";

/**
 * Why the provider could not serve an endpoint's request: the code and status travel to the payer's
 * gateway in an error frame, the short message in words.
 */
export class EndpointError extends BaseError {
  override name = "EndpointError";
  readonly code: HttpErrorCode;
  readonly status: number;

  constructor(
    code: HttpErrorCode,
    status: number,
    shortMessage: string,
    parameters: BaseErrorParameters = {},
  ) {
    super(shortMessage, parameters);
    this.code = code;
    this.status = status;
  }
}

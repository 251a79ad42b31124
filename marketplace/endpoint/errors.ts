import { BaseError, type BaseErrorParameters } from "../errors/base.ts";

/** What went wrong at the payer's gateway; `code` is stable, the message says it in words. */
export type GatewayErrorCode =
  | "provider-unreachable"
  | "provider-closed"
  | "provider-protocol"
  | "exchange-abandoned"
  | "gateway-stopped";

export class GatewayError extends BaseError {
  override name = "GatewayError";
  readonly code: GatewayErrorCode;

  constructor(code: GatewayErrorCode, shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
    this.code = code;
  }
}

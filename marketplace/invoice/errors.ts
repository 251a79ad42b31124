import { BaseError } from "../errors/base.ts";

/** The notes or vouchers given for an invoice do not belong together, or do not add up. */
export class InvoiceError extends BaseError {
  override name = "InvoiceError";
}

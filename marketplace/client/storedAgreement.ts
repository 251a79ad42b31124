import { z } from "zod";
import { BaseError } from "../errors/base.ts";
import { type Agreement, agreement as agreementSchema } from "../messages/agreement.ts";
import { type Envelope, envelope, summarizeZodError } from "../messages/envelope.ts";

const storedSignatures = z.object({ provider: envelope, submitter: envelope });

/** A job's stored agreement could not be read back. */
export class StoredAgreementError extends BaseError {
  override name = "StoredAgreementError";
}

/**
 * The agreement of a job as the submitter store keeps it (`jobs.agreement`: the provider's signed
 * envelope and our countersignature), parsed; the provider's store keeps the same pair, read with
 * this too. Signatures are not checked here: `auditJobReceipts` does that.
 * @throws StoredAgreementError when the stored text is not a pair of envelopes holding an agreement.
 */
export function storedAgreement(
  jobId: string,
  text: string,
): { agreement: Agreement; signatures: { provider: Envelope; submitter: Envelope } } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoredAgreementError(`The stored agreement of job ${jobId} is not JSON`, { cause: error });
  }
  const signatures = storedSignatures.safeParse(json);
  if (!signatures.success)
    throw new StoredAgreementError(`The stored agreement of job ${jobId} is not a signed pair`, {
      details: summarizeZodError(signatures.error),
    });
  let payload: unknown;
  try {
    payload = JSON.parse(signatures.data.provider.payload);
  } catch (error) {
    throw new StoredAgreementError(`The stored agreement of job ${jobId} has no JSON payload`, {
      cause: error,
    });
  }
  const parsed = agreementSchema.safeParse(payload);
  if (!parsed.success)
    throw new StoredAgreementError(`The stored agreement of job ${jobId} is not an agreement`, {
      details: summarizeZodError(parsed.error),
    });
  return { agreement: parsed.data, signatures: signatures.data };
}

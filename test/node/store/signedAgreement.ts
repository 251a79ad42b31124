import type { LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { PEER_A, PEER_B, PROVIDER_KEY, SUBMITTER_KEY } from "../../marketplace/messages/fixtures.ts";

/**
 * A job's `jobs.agreement` as the job service stores it: the provider's signed envelope of the
 * agreement and the submitter's countersignature of the same payload, as JSON.
 */
export async function signedAgreement(
  agreement: Agreement,
  p: { provider?: LocalAccount; submitter?: LocalAccount; chainId?: number } = {},
): Promise<string> {
  const chainId = p.chainId ?? 31337;
  const provider = await signEnvelope(p.provider ?? privateKeyToAccount(PROVIDER_KEY), {
    chainId,
    kind: "Agreement",
    peerId: PEER_A,
    expiresAt: 2_000_000_000,
    payload: agreement,
  });
  const submitter = await signEnvelope(p.submitter ?? privateKeyToAccount(SUBMITTER_KEY), {
    chainId,
    kind: "Agreement",
    peerId: PEER_B,
    expiresAt: provider.expiresAt,
    payload: JSON.parse(provider.payload),
  });
  return JSON.stringify({ provider, submitter });
}

import type { Hash, PublicClient, TransactionReceipt } from "viem";
import { BaseError } from "../../errors/base.ts";

/** How long `waitForSuccess` waits for a receipt by default. */
export const RECEIPT_TIMEOUT_MS = 120_000;

/** A transaction was mined but reverted. */
export class TransactionRevertedError extends BaseError {
  override name = "TransactionRevertedError";
  readonly receipt: TransactionReceipt;
  constructor(what: string, receipt: TransactionReceipt) {
    super(`${what}: transaction ${receipt.transactionHash} reverted in block ${receipt.blockNumber}.`);
    this.receipt = receipt;
  }
}

export type WaitForSuccessParameters = {
  hash: Hash;
  /** Names the transaction in the error ("redeem", "approve"…). */
  what: string;
  /** Blocks on top of the transaction's, itself included (default 1). */
  confirmations?: number;
  timeoutMs?: number;
};

/**
 * Waits for a transaction's receipt and returns it when it succeeded.
 * @throws TransactionRevertedError when it reverted; viem's timeout error when no receipt came.
 */
export async function waitForSuccess(
  client: Pick<PublicClient, "waitForTransactionReceipt">,
  p: WaitForSuccessParameters,
): Promise<TransactionReceipt> {
  const receipt = await client.waitForTransactionReceipt({
    hash: p.hash,
    confirmations: p.confirmations ?? 1,
    timeout: p.timeoutMs ?? RECEIPT_TIMEOUT_MS,
  });
  if (receipt.status !== "success") throw new TransactionRevertedError(p.what, receipt);
  return receipt;
}

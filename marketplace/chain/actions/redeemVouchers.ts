import type { Account, Address, Chain, Hash, Transport, WalletClient } from "viem";
import { computeEscrowAbi } from "../artifacts.generated.ts";
import { compactVoucherSignature } from "../voucher.ts";

export type RedeemVouchersParameters = {
  escrow: Address;
  /** Vouchers signed by the channels' payers (one per channel is enough: they are cumulative). */
  vouchers: readonly { channelId: bigint; cumulativeAmount: bigint; signature: `0x${string}` }[];
};

/**
 * Sends the redemption of `vouchers`: `redeem` for one, `redeemBatch` for several (which skips a
 * voucher its channel already redeemed instead of reverting). Returns the transaction hash; wait for
 * it with `waitForSuccess`.
 */
export async function redeemVouchers(
  client: WalletClient<Transport, Chain, Account>,
  p: RedeemVouchersParameters,
): Promise<Hash> {
  const [only, ...rest] = p.vouchers;
  if (only === undefined) throw new Error("redeemVouchers needs at least one voucher");
  if (rest.length === 0) {
    const { r, vs } = compactVoucherSignature(only.signature);
    return client.writeContract({
      address: p.escrow,
      abi: computeEscrowAbi,
      functionName: "redeem",
      args: [only.channelId, only.cumulativeAmount, r, vs],
    });
  }
  return client.writeContract({
    address: p.escrow,
    abi: computeEscrowAbi,
    functionName: "redeemBatch",
    args: [
      p.vouchers.map((v) => ({
        channelId: v.channelId,
        cumulativeAmount: v.cumulativeAmount,
        ...compactVoucherSignature(v.signature),
      })),
    ],
  });
}

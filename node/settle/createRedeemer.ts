import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import { computeEscrowAbi } from "../../marketplace/chain/artifacts.generated.ts";
import { compactVoucherSignature } from "../../marketplace/chain/voucher.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { readChannel } from "../job/readChannel.ts";
import { recordRedemption, type StoredVoucher, unredeemedVouchers } from "../store/receiptRecords.ts";

export type RedeemerComponents = {
  store: Store;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  escrow: Address;
  /** Where to start looking for past Redeemed events (the deployment block). */
  fromBlock: bigint;
  logger: Logger;
};

export type RedeemResult = { txHash: `0x${string}`; vouchers: StoredVoucher[] } | undefined;

/**
 * Redeems the newest stored voucher of every channel that has one above what the chain has paid:
 * one `redeem` for a single channel, one `redeemBatch` for several. Runs one redemption at a time;
 * each voucher gets the transaction hash that paid it. A voucher the chain would refuse (channel
 * closed, window over, already redeemed) is skipped with a warning, never sent.
 */
const compactArgs = (signature: `0x${string}`): [`0x${string}`, `0x${string}`] => {
  const { r, vs } = compactVoucherSignature(signature);
  return [r, vs];
};

export function createRedeemer(components: RedeemerComponents) {
  const { store, publicClient, walletClient, escrow, logger } = components;
  let queue: Promise<RedeemResult> = Promise.resolve(undefined);

  async function recordPastRedemption(channelId: bigint): Promise<void> {
    const logs = await publicClient.getContractEvents({
      address: escrow,
      abi: computeEscrowAbi,
      eventName: "Redeemed",
      args: { channelId },
      fromBlock: components.fromBlock,
    });
    for (const log of logs) {
      recordRedemption(store, {
        txHash: log.transactionHash,
        channelId,
        cumulativeAmount: log.args.cumulativeAmount ?? 0n,
        status: "confirmed",
        blockNumber: log.blockNumber,
        createdAt: Date.now(),
      });
    }
  }

  async function redeemNow(): Promise<RedeemResult> {
    const pending: StoredVoucher[] = [];
    const nowS = Math.floor(Date.now() / 1000);
    for (const voucher of unredeemedVouchers(store)) {
      const channel = await readChannel(publicClient, escrow, voucher.channelId);
      if (channel.redeemed >= voucher.cumulativeAmount) {
        // Already paid (we redeemed it before a crash and lost the receipt): find the transaction.
        await recordPastRedemption(voucher.channelId);
        continue;
      }
      if ((channel.status !== "open" && channel.status !== "closing") || nowS >= channel.deadline) {
        logger.warn("voucher can no longer be redeemed", {
          channelId: voucher.channelId,
          status: channel.status,
        });
        continue;
      }
      pending.push(voucher);
    }
    if (pending.length === 0) return undefined;
    const txHash =
      pending.length === 1 && pending[0] !== undefined
        ? await walletClient.writeContract({
            address: escrow,
            abi: computeEscrowAbi,
            functionName: "redeem",
            args: [pending[0].channelId, pending[0].cumulativeAmount, ...compactArgs(pending[0].signature)],
          })
        : await walletClient.writeContract({
            address: escrow,
            abi: computeEscrowAbi,
            functionName: "redeemBatch",
            args: [
              pending.map((v) => ({
                channelId: v.channelId,
                cumulativeAmount: v.cumulativeAmount,
                ...compactVoucherSignature(v.signature),
              })),
            ],
          });
    const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash, timeout: 120_000 });
    const status = receipt.status === "success" ? "confirmed" : "failed";
    for (const v of pending) {
      recordRedemption(store, {
        txHash,
        channelId: v.channelId,
        cumulativeAmount: v.cumulativeAmount,
        status,
        blockNumber: receipt.blockNumber,
        createdAt: Date.now(),
      });
    }
    logger.info("vouchers redeemed", { txHash, count: pending.length, status });
    return { txHash, vouchers: pending };
  }

  return {
    /** Redeems whatever is pending; calls queue behind each other. */
    redeem(): Promise<RedeemResult> {
      queue = queue.catch(() => undefined).then(redeemNow);
      return queue;
    },
  };
}

export type Redeemer = ReturnType<typeof createRedeemer>;

import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import { listRedemptions } from "../../marketplace/chain/actions/listRedemptions.ts";
import { type ChannelState, readChannel } from "../../marketplace/chain/actions/readChannel.ts";
import { redeemVouchers } from "../../marketplace/chain/actions/redeemVouchers.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { recordRedemption, type StoredVoucher } from "../store/receiptRecords.ts";
import {
  channelRunning,
  confirmedChannels,
  dropRedemptionsAbove,
  getQueueEntry,
  pendingVouchers,
  type SettlementStats,
  sentRedemptions,
  setRedemptionStatus,
  settlementStats,
  updateQueueEntry,
} from "../store/redemptionQueue.ts";
import {
  DEFAULT_REDEEM_CONFIRMATIONS,
  REDEEM_BACKOFF_BASE_MS,
  REDEEM_BACKOFF_MAX_MS,
  REDEEM_DEADLINE_WARNING_S,
  REDEEM_RECEIPT_TIMEOUT_MS,
  REDEEM_TICK_MS,
  REDEEM_WARNING_EVERY_MS,
  REORG_WINDOW_MS,
  SENT_LOST_AFTER_MS,
} from "./constants.ts";

/** What the queue needs. */
export type RedemptionQueueComponents = {
  store: Store;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  escrow: Address;
  /** Where to start looking for past `Redeemed` events (the deployment block). */
  fromBlock: bigint;
  logger: Logger;
  /** Epoch ms; tests move it. */
  now?: () => number;
};

/** Its settings; each has a default in `constants.ts`. */
export type RedemptionQueueInit = {
  /** Blocks a redemption needs (its own included) before it counts as paid (`redeem.confirmations`). */
  confirmations?: number;
  tickMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  deadlineWarningS?: number;
  reorgWindowMs?: number;
  sentLostAfterMs?: number;
};

/** One redemption sent by `redeem()`: the transaction and the vouchers in it. */
export type RedeemResult = { txHash: `0x${string}`; vouchers: StoredVoucher[] } | undefined;

/**
 * The provider's persistent redemption queue (DESIGN §11: settlement that nothing loses). Its state
 * is the ledger: a channel is pending while its newest voucher is above every redemption that counts
 * (`pendingVouchers`), so a crash, a restart or a lost transaction can only leave it pending. Each
 * tick, one at a time:
 * 1. follows every `sent` redemption: reverted → `failed`; mined with `confirmations` blocks →
 *    `confirmed`, counted as paid only then; unknown to the node `sentLostAfterMs` after sending →
 *    `dropped` (the chain lost it);
 * 2. re-reads the on-chain `redeemed` of channels with recent confirmed redemptions (all of them
 *    after a restart, in `start()`), and drops what the chain no longer has (a reorg, a reloaded
 *    node): those vouchers are pending again and re-sent;
 * 3. sends every pending voucher whose backoff has passed (a running job's channel only near its
 *    deadline: the job's end redeems it), in one `redeem` or `redeemBatch` (which
 *    skips a voucher redeemed meanwhile); a voucher already paid on-chain is recorded from its
 *    `Redeemed` event instead. A failure (chain unreachable) backs the channel off
 *    (`backoffBaseMs` × 2^attempts, at most `backoffMaxMs`), and a pending voucher whose channel's
 *    deadline is under `deadlineWarningS` away is warned about in the log.
 */
export function createRedemptionQueue(components: RedemptionQueueComponents, init: RedemptionQueueInit = {}) {
  const { store, publicClient, walletClient, escrow, logger } = components;
  const now = components.now ?? Date.now;
  const confirmations = init.confirmations ?? DEFAULT_REDEEM_CONFIRMATIONS;
  const tickMs = init.tickMs ?? REDEEM_TICK_MS;
  const backoffBaseMs = init.backoffBaseMs ?? REDEEM_BACKOFF_BASE_MS;
  const backoffMaxMs = init.backoffMaxMs ?? REDEEM_BACKOFF_MAX_MS;
  const deadlineWarningS = init.deadlineWarningS ?? REDEEM_DEADLINE_WARNING_S;
  const reorgWindowMs = init.reorgWindowMs ?? REORG_WINDOW_MS;
  const sentLostAfterMs = init.sentLostAfterMs ?? SENT_LOST_AFTER_MS;
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let recheckAll = true;

  const short = (error: unknown) => ((error as Error).message ?? String(error)).split("\n")[0] ?? "";
  const backoff = (attempts: number) => Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(attempts, 30));

  function failed(channelId: bigint, error: unknown): void {
    const entry = getQueueEntry(store, channelId);
    const attempts = entry.attempts + 1;
    updateQueueEntry(store, channelId, {
      attempts,
      nextAttemptAt: now() + backoff(entry.attempts),
      lastError: short(error),
    });
    logger.warn("redemption will be retried", { channelId, attempts, error: short(error) });
  }

  /** 1. Sent transactions: count them once confirmed, or give their vouchers back to the queue. */
  async function followSent(): Promise<void> {
    const sent = sentRedemptions(store);
    if (sent.length === 0) return;
    const head = await publicClient.getBlockNumber({ cacheTime: 0 });
    const byTx = new Map<string, typeof sent>();
    for (const r of sent) byTx.set(r.txHash, [...(byTx.get(r.txHash) ?? []), r]);
    for (const [hash, parts] of byTx) {
      const receipt = await publicClient
        .getTransactionReceipt({ hash: hash as `0x${string}` })
        .catch(() => undefined);
      if (receipt === undefined) {
        const known = await publicClient.getTransaction({ hash: hash as `0x${string}` }).then(
          () => true,
          () => false,
        );
        const oldest = Math.min(...parts.map((p) => p.createdAt));
        if (!known && now() - oldest >= sentLostAfterMs) {
          for (const p of parts)
            setRedemptionStatus(store, {
              txHash: hash,
              channelId: p.channelId,
              status: "dropped",
              blockNumber: null,
            });
          logger.warn("the chain lost a redemption; its vouchers are pending again", { txHash: hash });
        }
        continue;
      }
      if (receipt.status !== "success") {
        for (const p of parts)
          setRedemptionStatus(store, {
            txHash: hash,
            channelId: p.channelId,
            status: "failed",
            blockNumber: receipt.blockNumber,
          });
        logger.warn("redemption reverted; its vouchers are pending again", { txHash: hash });
        continue;
      }
      if (head - receipt.blockNumber + 1n < BigInt(confirmations)) continue;
      for (const p of parts) {
        setRedemptionStatus(store, {
          txHash: hash,
          channelId: p.channelId,
          status: "confirmed",
          blockNumber: receipt.blockNumber,
        });
        updateQueueEntry(store, p.channelId, { attempts: 0, nextAttemptAt: 0, lastError: null });
      }
      logger.info("redemption confirmed", { txHash: hash, count: parts.length, confirmations });
    }
  }

  /** 2. What the store counts as paid must still be on-chain. */
  async function recheckConfirmed(): Promise<void> {
    const since = recheckAll ? 0 : now() - reorgWindowMs;
    for (const { channelId, confirmed } of confirmedChannels(store, since)) {
      const state = await readChannel(publicClient, { escrow, channelId });
      if (state.redeemed >= confirmed) continue;
      const dropped = dropRedemptionsAbove(store, channelId, state.redeemed);
      logger.warn("the chain no longer has a confirmed redemption; redeeming again", {
        channelId,
        confirmed,
        onChain: state.redeemed,
        dropped,
      });
    }
    recheckAll = false;
  }

  async function recordPastRedemptions(channelId: bigint): Promise<void> {
    for (const r of await listRedemptions(publicClient, {
      escrow,
      channelId,
      fromBlock: components.fromBlock,
    })) {
      recordRedemption(store, {
        txHash: r.txHash,
        channelId,
        cumulativeAmount: r.cumulativeAmount,
        status: "confirmed",
        blockNumber: r.blockNumber,
        createdAt: now(),
      });
    }
  }

  function warnNearDeadline(voucher: StoredVoucher, state: ChannelState): void {
    const leftS = state.deadline - now() / 1000;
    if (leftS > deadlineWarningS) return;
    const entry = getQueueEntry(store, voucher.channelId);
    if (entry.warnedAt !== null && now() - entry.warnedAt < REDEEM_WARNING_EVERY_MS) return;
    updateQueueEntry(store, voucher.channelId, { warnedAt: now() });
    logger.warn("a voucher nears its channel's redeem deadline unredeemed", {
      channelId: voucher.channelId,
      cumulativeAmount: voucher.cumulativeAmount,
      deadline: state.deadline,
      secondsLeft: Math.floor(leftS),
    });
  }

  /**
   * 3. Send what is pending and due. A channel with a job still running is left to the job's end
   * (its voucher grows each interval: redeeming each one would only spend gas) unless `all`, or its
   * deadline is nearer than `deadlineWarningS`.
   */
  async function sendPending(all: boolean): Promise<RedeemResult> {
    const ready: StoredVoucher[] = [];
    const nowS = () => now() / 1000;
    for (const voucher of pendingVouchers(store)) {
      const entry = getQueueEntry(store, voucher.channelId);
      if (entry.nextAttemptAt > now()) continue;
      const waitForJob = !all && channelRunning(store, voucher.channelId);
      if (waitForJob && entry.deadline !== null && entry.deadline - nowS() > deadlineWarningS) continue;
      let state: ChannelState;
      try {
        state = await readChannel(publicClient, { escrow, channelId: voucher.channelId });
      } catch (error) {
        failed(voucher.channelId, error);
        continue;
      }
      updateQueueEntry(store, voucher.channelId, { deadline: state.deadline });
      if (waitForJob && state.deadline - nowS() > deadlineWarningS) continue;
      if (state.redeemed >= voucher.cumulativeAmount) {
        // Paid already (a redemption whose receipt we lost, or one sent by someone else).
        await recordPastRedemptions(voucher.channelId);
        continue;
      }
      if ((state.status !== "open" && state.status !== "closing") || now() / 1000 >= state.deadline) {
        updateQueueEntry(store, voucher.channelId, {
          nextAttemptAt: now() + backoffMaxMs,
          lastError: `channel ${state.status}, deadline ${state.deadline}: can no longer be redeemed`,
        });
        logger.warn("voucher can no longer be redeemed", {
          channelId: voucher.channelId,
          status: state.status,
        });
        continue;
      }
      warnNearDeadline(voucher, state);
      ready.push(voucher);
    }
    if (ready.length === 0) return undefined;
    let txHash: `0x${string}`;
    try {
      txHash = await redeemVouchers(walletClient, { escrow, vouchers: ready });
    } catch (error) {
      for (const v of ready) failed(v.channelId, error);
      return undefined;
    }
    for (const v of ready) {
      recordRedemption(store, {
        txHash,
        channelId: v.channelId,
        cumulativeAmount: v.cumulativeAmount,
        status: "sent",
        blockNumber: null,
        createdAt: now(),
      });
    }
    logger.info("vouchers sent for redemption", { txHash, count: ready.length });
    return { txHash, vouchers: ready };
  }

  async function tick(all = false): Promise<RedeemResult> {
    try {
      await followSent();
      await recheckConfirmed();
    } catch (error) {
      logger.warn("cannot check redemptions on-chain now", { error: short(error) });
    }
    return sendPending(all);
  }

  /** Runs `work` after whatever runs now: one pass over the ledger at a time. */
  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = running.catch(() => undefined).then(work);
    running = next;
    return next;
  }

  return {
    /** Starts the ticks; the first re-checks every confirmed redemption against the chain. */
    start(): void {
      recheckAll = true;
      const loop = () => {
        timer = setTimeout(() => {
          void serial(tick)
            .catch((error: unknown) => logger.warn("redemption tick failed", { error: short(error) }))
            .finally(() => {
              if (timer !== undefined) loop();
            });
        }, tickMs);
        timer.unref?.();
      };
      loop();
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await running.catch(() => undefined);
    },
    /** One tick now; resolves with what it sent (undefined: nothing was due or the send failed). */
    tick: (): Promise<RedeemResult> => serial(() => tick()),
    /**
     * Redeems everything pending now, running jobs' channels included, and waits for that
     * transaction's receipt, then counts it if it has its confirmations (`POST /v1/redeem`,
     * `gridspot provider redeem`, the end of a job).
     */
    redeem(): Promise<RedeemResult> {
      return serial(async () => {
        const sent = await tick(true);
        if (sent !== undefined) {
          await publicClient
            .waitForTransactionReceipt({ hash: sent.txHash, timeout: REDEEM_RECEIPT_TIMEOUT_MS })
            .catch((error: unknown) =>
              logger.warn("no receipt for the redemption yet", { error: short(error) }),
            );
          await followSent().catch(() => undefined);
        }
        return sent;
      });
    },
    /** Vouchers pending, their value, and the nearest deadline (for `/metrics` and `/v1/status`). */
    stats: (): SettlementStats => settlementStats(store),
  };
}

export type RedemptionQueue = ReturnType<typeof createRedemptionQueue>;

import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { z } from "zod";
import { registerProvider } from "../../chain/actions/registerProvider.ts";
import { computeTokenAbi, providerRegistryAbi } from "../../chain/artifacts.generated.ts";
import { NotEnoughGridError } from "../../chain/errors.ts";
import { BaseError } from "../../errors/base.ts";
import { UsageError } from "../../errors/usage.ts";
import { summarizeZodError } from "../../messages/envelope.ts";
import {
  apiError,
  providerStatus as providerStatusAnswer,
  redeemAnswer,
} from "../../messages/operatorApi.ts";
import { loadOrCreatePeerKey } from "../../p2p/peerKey.ts";
import { confirm } from "../confirm.ts";
import { formatDuration, formatGrid, formatRate, formatWhen, parseGrid } from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import { openChain } from "../openChain.ts";
import type { CommandResult } from "./types.ts";

const DEFAULT_API = "http://127.0.0.1:8787";

/**
 * The operator API's answer to a request, parsed by the schema the node answers with
 * (marketplace/messages/operatorApi.ts), or an error in words.
 */
async function callApi<T extends z.ZodTypeAny>(
  flags: { api?: unknown },
  path: "/v1/status" | "/v1/redeem",
  schema: T,
): Promise<z.output<T>> {
  const base = typeof flags.api === "string" ? flags.api : (process.env.GRIDSPOT_API_URL ?? DEFAULT_API);
  const write = path === "/v1/redeem";
  const response = await fetch(`${base}${path}`, {
    method: write ? "POST" : "GET",
    headers: write ? { authorization: `Bearer ${process.env.GRIDSPOT_ADMIN_TOKEN ?? ""}` } : {},
    signal: AbortSignal.timeout(write ? 180_000 : 10_000),
  }).catch((error: unknown) => {
    throw new BaseError(`Cannot reach the provider's operator API at ${base}.`, {
      cause: error,
      metaMessages: [
        "Is the node running (`gridspot provider start`)? Give its API with --api URL or GRIDSPOT_API_URL.",
      ],
    });
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status === 401)
    throw new UsageError(
      "The operator API refused the request: set GRIDSPOT_ADMIN_TOKEN to the node's admin token.",
    );
  if (!response.ok) {
    const problem = apiError.safeParse(body);
    throw new BaseError(
      `The provider's operator API answered ${response.status}: ${problem.success ? problem.data.message : ""}`,
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new BaseError(`The provider's operator API answered ${path} with something unexpected.`, {
      details: summarizeZodError(parsed.error),
      metaMessages: ["Are the node and this CLI of the same version?"],
    });
  return parsed.data;
}

/** `provider status`: the running node's state as sentences. */
export async function providerStatus(
  _options: GlobalOptions,
  flags: { api?: unknown },
): Promise<CommandResult> {
  const s = await callApi(flags, "/v1/status", providerStatusAnswer);
  const gpus = s.resources?.gpus ?? [];
  const { settlement } = s;
  const classes = new Map<string, number>();
  for (const g of gpus) classes.set(g.class, (classes.get(g.class) ?? 0) + 1);
  const deadline = settlement.nearestDeadline;
  const text = [
    `Provider   ${String(s.provider)} on chain ${String(s.chainId)}`,
    `Peer       ${String(s.peerId)}`,
    ...(s.addrs ?? []).map((a, i) => `${i === 0 ? "Listening" : "         "}  ${a}`),
    `Offers     ${
      gpus.length === 0
        ? "CPU only"
        : [...classes].map(([c, n]) => `${n} × ${c}`).join(", ") +
          (s.gpu?.offered === false ? ` (GPUs not offered: ${String(s.gpu.reason)})` : "")
    }, ${String(s.resources?.cpuCores)} cores, ${String(s.resources?.memMiB)} MiB, jobs up to ${formatDuration((s.resources?.maxDurationS ?? 0) * 1000)}`,
    ...(s.rates ?? []).map(
      (r) => `Price      ${formatRate(r)}${r.gpuClass === undefined ? "" : ` (${r.gpuClass})`}`,
    ),
    `Jobs       ${s.runningJobs?.length ?? 0} running, ${s.jobs ?? 0} in the ledger`,
    `Settlement ${
      settlement.vouchersPending === 0
        ? "every voucher redeemed"
        : `${settlement.vouchersPending} channel(s) with ${formatGrid(settlement.pendingValue)} to redeem${deadline === null ? "" : `, the first by ${formatWhen(deadline)}`}`
    }${settlement.redemptionsUnconfirmed > 0 ? `; ${settlement.redemptionsUnconfirmed} redemption(s) awaiting confirmation` : ""}`,
  ].join("\n");
  return { json: s, text };
}

/** `provider redeem`: asks the node to redeem its pending vouchers now, and says what happened. */
export async function providerRedeem(
  _options: GlobalOptions,
  flags: { api?: unknown },
): Promise<CommandResult> {
  const body = await callApi(flags, "/v1/redeem", redeemAnswer);
  const { result } = body;
  if (result === null)
    return {
      json: body,
      text: "Nothing to redeem: every voucher is redeemed or waiting for its confirmation.",
    };
  const channels = result.vouchers.map((v) => v.channelId.toString()).join(", ");
  return {
    json: body,
    text: `Sent a redemption of ${result.vouchers.length} voucher(s) (channel ${channels}) in tx ${result.txHash}; \`gridspot provider status\` shows when it is confirmed.`,
  };
}

/** The registry's view of the wallet's account. */
async function registration(options: GlobalOptions) {
  const chain = await openChain(options, { wallet: true });
  const { account, clients, deployment } = chain;
  const registry = deployment.contracts.providerRegistry;
  const read = clients.publicClient;
  const [record_, minStake, unbondingPeriod, held] = await Promise.all([
    read.readContract({
      address: registry,
      abi: providerRegistryAbi,
      functionName: "getProvider",
      args: [account.address],
    }),
    read.readContract({ address: registry, abi: providerRegistryAbi, functionName: "minStake" }),
    read.readContract({ address: registry, abi: providerRegistryAbi, functionName: "unbondingPeriod" }),
    read.readContract({
      address: deployment.contracts.computeToken,
      abi: computeTokenAbi,
      functionName: "balanceOf",
      args: [account.address],
    }),
  ]);
  return { ...chain, registry, record: record_, minStake, unbondingPeriod, held };
}

const notRegistered = (address: string) =>
  new UsageError(`${address} is not registered as a provider`, {
    metaMessages: [
      "Register first: `gridspot provider register` (or `gridspot provider start`, which registers).",
    ],
  });

function needGrid(what: string, needed: bigint, held: bigint): void {
  if (held < needed)
    throw new NotEnoughGridError(what, formatGrid(needed), formatGrid(held), {
      metaMessages: [
        "Get GRID into this wallet (`gridspot wallet faucet` on a dev chain or testnet), or stake less.",
      ],
    });
}

/**
 * `provider register [--stake GRID] [--metadata URI]`: registers the node's libp2p peer id (from
 * `<data dir>/peer.key`, created the first time) with a stake (default the registry's minimum).
 */
export async function providerRegister(
  options: GlobalOptions,
  flags: { stake?: unknown; metadata?: unknown },
): Promise<CommandResult> {
  const asked = typeof flags.stake === "string" ? parseGrid(flags.stake, "--stake") : undefined;
  const metadata = typeof flags.metadata === "string" ? flags.metadata : "";
  const r = await registration(options);
  if (r.record.registeredAt !== 0n)
    return {
      json: {
        provider: r.account.address,
        peerId: r.record.peerId,
        stake: r.record.stake,
        registered: true,
        tx: null,
      },
      text: `${r.account.address} is already registered (peer ${r.record.peerId}, stake ${formatGrid(r.record.stake)}).`,
    };
  const stake = asked ?? r.minStake;
  if (stake < r.minStake)
    throw new UsageError(`--stake must be at least the registry's minimum, ${formatGrid(r.minStake)}`);
  needGrid("stake", stake, r.held);
  const peerId = peerIdFromPrivateKey(
    await loadOrCreatePeerKey(join(options.dataDir, "peer.key")),
  ).toString();
  await registerProvider(r.clients, {
    registry: r.registry,
    token: r.deployment.contracts.computeToken,
    peerId,
    metadata,
    stake,
  });
  return {
    json: { provider: r.account.address, peerId, stake, registered: true },
    text: `Registered ${r.account.address} (peer ${peerId}) with a stake of ${formatGrid(stake)}.`,
  };
}

/** `provider stake AMOUNT`: bonds more GRID (approve, then `addStake`). */
export async function providerStake(
  options: GlobalOptions,
  p: { amount: string | undefined },
): Promise<CommandResult> {
  const amount = parseGrid(p.amount ?? "", "AMOUNT");
  if (amount === 0n) throw new UsageError("AMOUNT must be above zero");
  const r = await registration(options);
  if (r.record.registeredAt === 0n) throw notRegistered(r.account.address);
  needGrid("stake", amount, r.held);
  await confirm(r.clients.publicClient, {
    what: "approve the stake",
    hash: await r.clients.walletClient.writeContract({
      address: r.deployment.contracts.computeToken,
      abi: computeTokenAbi,
      functionName: "approve",
      args: [r.registry, amount],
    }),
  });
  const hash = await r.clients.walletClient.writeContract({
    address: r.registry,
    abi: providerRegistryAbi,
    functionName: "addStake",
    args: [amount],
  });
  await confirm(r.clients.publicClient, { hash, what: "addStake" });
  const stake = r.record.stake + amount;
  return {
    json: { provider: r.account.address, added: amount, stake, tx: hash },
    text: `Staked ${formatGrid(amount)} more: ${formatGrid(stake)} bonded (tx ${hash}).`,
  };
}

/** `provider unstake AMOUNT`: starts unbonding; says when `withdraw-stake` can take it. */
export async function providerUnstake(
  options: GlobalOptions,
  p: { amount: string | undefined },
): Promise<CommandResult> {
  const amount = parseGrid(p.amount ?? "", "AMOUNT");
  if (amount === 0n) throw new UsageError("AMOUNT must be above zero");
  const r = await registration(options);
  if (r.record.registeredAt === 0n) throw notRegistered(r.account.address);
  if (amount > r.record.stake)
    throw new UsageError(
      `You have ${formatGrid(r.record.stake)} bonded; ${formatGrid(amount)} cannot be unstaked.`,
    );
  const hash = await r.clients.walletClient.writeContract({
    address: r.registry,
    abi: providerRegistryAbi,
    functionName: "requestUnstake",
    args: [amount],
  });
  await confirm(r.clients.publicClient, { hash, what: "requestUnstake" });
  const after = await r.clients.publicClient.readContract({
    address: r.registry,
    abi: providerRegistryAbi,
    functionName: "getProvider",
    args: [r.account.address],
  });
  const endsAt = Number(after.unbondingEndsAt);
  const chainNow = Number((await r.clients.publicClient.getBlock()).timestamp) * 1000;
  const belowMin = after.stake < r.minStake;
  return {
    json: {
      provider: r.account.address,
      stake: after.stake,
      unbonding: after.unbonding,
      unbondingEndsAt: endsAt,
      tx: hash,
    },
    text: [
      `Unbonding ${formatGrid(after.unbonding)} (tx ${hash}); ${formatGrid(after.stake)} stays bonded.`,
      `\`gridspot provider withdraw-stake\` can take it back after ${formatWhen(endsAt, chainNow)}.`,
      ...(belowMin
        ? [
            `Below the registry's minimum of ${formatGrid(r.minStake)}, the node is no longer listed as active.`,
          ]
        : []),
    ].join("\n"),
  };
}

/** `provider withdraw-stake`: the unbonded stake back to the wallet, once its period is over. */
export async function providerWithdrawStake(options: GlobalOptions): Promise<CommandResult> {
  const r = await registration(options);
  if (r.record.registeredAt === 0n) throw notRegistered(r.account.address);
  if (r.record.unbonding === 0n)
    throw new UsageError("Nothing is unbonding: start with `gridspot provider unstake AMOUNT`.");
  const chainNow = Number((await r.clients.publicClient.getBlock()).timestamp);
  const endsAt = Number(r.record.unbondingEndsAt);
  if (chainNow < endsAt)
    return {
      json: { provider: r.account.address, unbonding: r.record.unbonding, unbondingEndsAt: endsAt, tx: null },
      text: `${formatGrid(r.record.unbonding)} is still unbonding: it can be withdrawn after ${formatWhen(endsAt, chainNow * 1000)}.`,
      exitCode: 8,
    };
  const hash = await r.clients.walletClient.writeContract({
    address: r.registry,
    abi: providerRegistryAbi,
    functionName: "withdrawStake",
  });
  await confirm(r.clients.publicClient, { hash, what: "withdrawStake" });
  return {
    json: { provider: r.account.address, withdrawn: r.record.unbonding, tx: hash },
    text: `Withdrew ${formatGrid(r.record.unbonding)} of unbonded stake to the wallet (tx ${hash}).`,
  };
}

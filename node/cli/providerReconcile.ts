import { existsSync } from "node:fs";
import { join } from "node:path";
import { createChainClients } from "../../marketplace/chain/clients.ts";
import { defaultDeploymentsDir } from "../../marketplace/chain/defaultDeploymentsDir.ts";
import { readDeployment } from "../../marketplace/chain/deployments.ts";
import type { CommandResult } from "../../marketplace/cli/commands/types.ts";
import { formatGrid } from "../../marketplace/cli/format.ts";
import type { GlobalFlags, GlobalOptions } from "../../marketplace/cli/globalOptions.ts";
import { UsageError } from "../../marketplace/errors/usage.ts";
import { readProviderConfigFile } from "../config/providerConfig.ts";
import { reconcile } from "../settle/reconcile.ts";
import type { ReconcileReport } from "../settle/reconcileTypes.ts";
import { openProviderStore } from "../store/openProviderStore.ts";

/**
 * `provider reconcile [--config FILE] [--data-dir DIR] [--rpc-url URL] [--check]`: compares, per
 * channel, the provider's ledger (rated with each job's agreement), its debit notes, its newest
 * voucher and what the escrow has redeemed, and lists every difference. Reads the node's ledger
 * file directly (a running node may keep it open) and the chain; changes nothing. With `--check`
 * it exits 1 when any channel has a difference, for scripts and cron.
 */
export async function providerReconcile(
  options: GlobalOptions,
  values: GlobalFlags & { config?: unknown; check?: unknown },
): Promise<CommandResult> {
  const file = typeof values.config === "string" ? await readProviderConfigFile(values.config) : {};
  const pick = (flag: string | undefined, env: string | undefined, key: string, fallback: string) =>
    flag ?? env ?? (typeof file[key] === "string" ? (file[key] as string) : fallback);
  const dataDir = pick(values.dataDir, process.env.GRIDSPOT_DATA_DIR, "dataDir", options.dataDir);
  const rpcUrl = pick(values.rpcUrl, process.env.GRIDSPOT_RPC_URL, "rpcUrl", options.rpcUrl);
  const deploymentsDir = options.deploymentsDir ?? (file.deploymentsDir as string | undefined);
  const ledger = join(dataDir, "provider.db");
  if (!existsSync(ledger)) {
    throw new UsageError(`No provider ledger at ${ledger}`, {
      metaMessages: ["Give the node's data dir with --data-dir or --config."],
    });
  }
  const { publicClient, chain } = await createChainClients({ rpcUrl });
  const deployment = await readDeployment(deploymentsDir ?? defaultDeploymentsDir(), chain.id);
  const store = openProviderStore(ledger);
  try {
    const report = await reconcile(store, { publicClient, escrow: deployment.contracts.computeEscrow });
    return {
      json: report,
      text: formatReconcileReport(report),
      exitCode: values.check === true && !report.ok ? 1 : 0,
    };
  } finally {
    store.close();
  }
}

/** The report for people: one block per channel, differences indented under it. */
export function formatReconcileReport(report: ReconcileReport): string {
  const lines: string[] = [];
  for (const c of report.channels) {
    lines.push(
      `channel ${c.channelId}  ${c.status === "ok" ? "ok" : "DIFFERENCES"}${c.running ? " (a job is running)" : ""}  ` +
        `noted ${formatGrid(c.noteCumulative)}  signed ${formatGrid(c.voucherCumulative)}  ` +
        `redeemed ${formatGrid(c.redeemedOnChain)}  on-chain ${c.chain.status}`,
    );
    for (const d of c.differences) {
      const amount = d.amount === null ? "unknown amount" : formatGrid(d.amount);
      lines.push(
        `  ${d.kind.padEnd(18)} ${amount}${d.jobId === null ? "" : `  job ${d.jobId}`}: ${d.detail}`,
      );
    }
  }
  if (report.channels.length === 0) lines.push("no channels in the ledger");
  const found = Object.entries(report.summary).filter(([, s]) => s.channels > 0);
  lines.push(
    found.length === 0
      ? `all ${report.channels.length} channel(s) reconcile`
      : `differences: ${found.map(([kind, s]) => `${kind} on ${s.channels} channel(s), ${formatGrid(s.amount)}`).join("; ")}`,
  );
  return lines.join("\n");
}

import { chainContext } from "../../marketplace/cli/chainContext.ts";
import type { CommandResult } from "../../marketplace/cli/commands/types.ts";
import { type GlobalFlags, type GlobalOptions, loadCliAccount } from "../../marketplace/cli/globalOptions.ts";
import { UsageError } from "../../marketplace/errors/usage.ts";
import { createLogger } from "../../marketplace/log/createLogger.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import { parseProviderConfig, readProviderConfigFile } from "../config/providerConfig.ts";
import { startProvider } from "../provider.ts";

/**
 * `provider start --config FILE`: runs the provider node until SIGINT/SIGTERM. Flags and GRIDSPOT_*
 * variables override the file. With --json, one line describing the started node goes to stdout.
 */
export async function providerStart(
  options: GlobalOptions,
  values: GlobalFlags & { config?: unknown; listen?: unknown; apiPort?: unknown },
): Promise<CommandResult | undefined> {
  const configPath = typeof values.config === "string" ? values.config : undefined;
  const listen = Array.isArray(values.listen) ? (values.listen as string[]) : undefined;
  const file = configPath === undefined ? {} : await readProviderConfigFile(configPath);
  const p2p = (file.p2p ?? {}) as Record<string, unknown>;
  const api = (file.api ?? {}) as Record<string, unknown>;
  const apiPort =
    (typeof values.apiPort === "string" ? values.apiPort : undefined) ?? process.env.GRIDSPOT_API_PORT;
  if (apiPort !== undefined && !/^\d+$/.test(apiPort))
    throw new UsageError(`--api-port must be a port number, got "${apiPort}"`);
  const config = parseProviderConfig(
    {
      ...file,
      dataDir: values.dataDir ?? process.env.GRIDSPOT_DATA_DIR ?? file.dataDir ?? options.dataDir,
      rpcUrl: values.rpcUrl ?? process.env.GRIDSPOT_RPC_URL ?? file.rpcUrl ?? options.rpcUrl,
      ...(options.deploymentsDir === undefined ? {} : { deploymentsDir: options.deploymentsDir }),
      p2p: {
        ...p2p,
        ...(listen === undefined ? {} : { listen }),
        ...(options.bootstrap.length === 0 ? {} : { bootstrap: options.bootstrap }),
        ...(options.localNetwork ? { localNetwork: true } : {}),
      },
      api: { ...api, ...(apiPort === undefined ? {} : { port: Number(apiPort) }) },
    },
    configPath === undefined ? "configuration" : `config ${configPath}`,
  );
  const account = await loadCliAccount({ ...options, dataDir: config.dataDir });
  // For the error messages if the start fails on the chain (no gas, not enough GRID to stake).
  chainContext.rpcUrl = config.rpcUrl;
  chainContext.address = account.address;
  const node = await startProvider(config, account, createLogger("gridspot:node"));
  const info = {
    address: node.address,
    peerId: node.peerId,
    multiaddrs: node.multiaddrs,
    api: node.apiUrl ?? null,
    chainId: node.deployment.chainId,
  };
  process.stdout.write(
    options.json
      ? `${toJson(info)}\n`
      : `provider ${node.address} listening on ${node.multiaddrs.join(" ")}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await node.stop();
  return undefined;
}

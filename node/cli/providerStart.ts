import { parseArgs } from "node:util";
import type { CommandResult } from "../../marketplace/cli/commands/types.ts";
import {
  GLOBAL_OPTION_SPEC,
  loadCliAccount,
  resolveGlobalOptions,
} from "../../marketplace/cli/globalOptions.ts";
import { UsageError } from "../../marketplace/errors/usage.ts";
import { createLogger } from "../../marketplace/log/createLogger.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import { parseProviderConfig, readProviderConfigFile } from "../config/providerConfig.ts";
import { startProvider } from "../provider.ts";

/**
 * `provider start --config FILE`: runs the provider node until SIGINT/SIGTERM. Flags and GRIDSPOT_*
 * variables override the file. With --json, one line describing the started node goes to stdout.
 */
export async function providerStart(argv: string[]): Promise<CommandResult | undefined> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...GLOBAL_OPTION_SPEC,
      config: { type: "string" },
      listen: { type: "string", multiple: true },
      "api-port": { type: "string" },
    },
  });
  const options = resolveGlobalOptions(values, "provider");
  const file = values.config === undefined ? {} : await readProviderConfigFile(values.config);
  const p2p = (file.p2p ?? {}) as Record<string, unknown>;
  const api = (file.api ?? {}) as Record<string, unknown>;
  const apiPort = values["api-port"] ?? process.env.GRIDSPOT_API_PORT;
  if (apiPort !== undefined && !/^\d+$/.test(apiPort))
    throw new UsageError(`--api-port must be a port number, got "${apiPort}"`);
  const config = parseProviderConfig(
    {
      ...file,
      dataDir: values["data-dir"] ?? process.env.GRIDSPOT_DATA_DIR ?? file.dataDir ?? options.dataDir,
      rpcUrl: values["rpc-url"] ?? process.env.GRIDSPOT_RPC_URL ?? file.rpcUrl ?? options.rpcUrl,
      ...(options.deploymentsDir === undefined ? {} : { deploymentsDir: options.deploymentsDir }),
      p2p: {
        ...p2p,
        ...(values.listen === undefined ? {} : { listen: values.listen }),
        ...(options.bootstrap.length === 0 ? {} : { bootstrap: options.bootstrap }),
        ...(options.localNetwork ? { localNetwork: true } : {}),
      },
      api: { ...api, ...(apiPort === undefined ? {} : { port: Number(apiPort) }) },
    },
    values.config === undefined ? "configuration" : `config ${values.config}`,
  );
  const account = await loadCliAccount({ ...options, dataDir: config.dataDir });
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

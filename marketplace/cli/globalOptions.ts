import { homedir } from "node:os";
import { join } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import type { LocalAccount } from "viem";
import { UsageError } from "../errors/usage.ts";
import { loadAccount } from "../wallet/loadAccount.ts";

/** Options every command takes; environment variables fill what flags leave out. */
export type GlobalOptions = {
  json: boolean;
  rpcUrl: string;
  dataDir: string;
  deploymentsDir: string | undefined;
  bootstrap: string[];
  localNetwork: boolean;
};

/** The global flags as the parser hands them over (commander's camelCase names). */
export type GlobalFlags = {
  json?: boolean | undefined;
  rpcUrl?: string | undefined;
  dataDir?: string | undefined;
  deployments?: string | undefined;
  bootstrap?: string[] | undefined;
  localNetwork?: boolean | undefined;
};

/** The default JSON-RPC endpoint: a local dev chain. */
export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

export function resolveGlobalOptions(flags: GlobalFlags, role: "submitter" | "provider"): GlobalOptions {
  const env = process.env;
  const bootstrap = (
    flags.bootstrap !== undefined && flags.bootstrap.length > 0
      ? flags.bootstrap
      : env.GRIDSPOT_BOOTSTRAP
        ? env.GRIDSPOT_BOOTSTRAP.split(",")
        : []
  )
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const address of bootstrap) checkBootstrap(address);
  return {
    json: flags.json === true,
    rpcUrl: flags.rpcUrl ?? env.GRIDSPOT_RPC_URL ?? DEFAULT_RPC_URL,
    dataDir: flags.dataDir ?? env.GRIDSPOT_DATA_DIR ?? join(homedir(), ".gridspot", role),
    deploymentsDir: flags.deployments ?? env.GRIDSPOT_DEPLOYMENTS_DIR,
    bootstrap,
    localNetwork: flags.localNetwork === true || env.GRIDSPOT_LOCAL_NETWORK === "1",
  };
}

/** A bootstrap address must be a multiaddr that names the peer: `/ip4/…/tcp/…/p2p/<peer id>`. */
function checkBootstrap(address: string): void {
  let names: string[];
  try {
    names = multiaddr(address)
      .getComponents()
      .map((c) => c.name);
  } catch {
    throw new UsageError(`--bootstrap "${address}" is not a multiaddr`, {
      metaMessages: ["A bootstrap address looks like /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…"],
    });
  }
  if (!names.includes("p2p"))
    throw new UsageError(`--bootstrap "${address}" does not name a peer (no /p2p/<peer id> at its end)`, {
      metaMessages: ["A provider prints its full addresses when it starts (`provider start`)."],
    });
}

/** The wallet: GRIDSPOT_PRIVATE_KEY (development), else `<data dir>/keystore.json` with GRIDSPOT_PASSWORD. */
export function loadCliAccount(options: GlobalOptions): Promise<LocalAccount> {
  return loadAccount({
    privateKey: process.env.GRIDSPOT_PRIVATE_KEY,
    keystorePath: process.env.GRIDSPOT_KEYSTORE ?? join(options.dataDir, "keystore.json"),
    password: process.env.GRIDSPOT_PASSWORD,
  });
}

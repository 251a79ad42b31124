import { homedir } from "node:os";
import { join } from "node:path";
import type { LocalAccount } from "viem";
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

export const GLOBAL_OPTION_SPEC = {
  json: { type: "boolean", default: false },
  "rpc-url": { type: "string" },
  "data-dir": { type: "string" },
  deployments: { type: "string" },
  bootstrap: { type: "string", multiple: true },
  "local-network": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export function resolveGlobalOptions(
  values: Record<string, unknown>,
  role: "submitter" | "provider",
): GlobalOptions {
  const env = process.env;
  const bootstrap =
    (values.bootstrap as string[] | undefined) ??
    (env.GRIDSPOT_BOOTSTRAP ? env.GRIDSPOT_BOOTSTRAP.split(",") : []);
  return {
    json: values.json === true,
    rpcUrl: (values["rpc-url"] as string | undefined) ?? env.GRIDSPOT_RPC_URL ?? "http://127.0.0.1:8545",
    dataDir:
      (values["data-dir"] as string | undefined) ??
      env.GRIDSPOT_DATA_DIR ??
      join(homedir(), ".gridspot", role),
    deploymentsDir: (values.deployments as string | undefined) ?? env.GRIDSPOT_DEPLOYMENTS_DIR,
    bootstrap: bootstrap.map((s) => s.trim()).filter((s) => s !== ""),
    localNetwork: values["local-network"] === true || env.GRIDSPOT_LOCAL_NETWORK === "1",
  };
}

/** The wallet: GRIDSPOT_PRIVATE_KEY (development), else `<data dir>/keystore.json` with GRIDSPOT_PASSWORD. */
export function loadCliAccount(options: GlobalOptions): Promise<LocalAccount> {
  return loadAccount({
    privateKey: process.env.GRIDSPOT_PRIVATE_KEY,
    keystorePath: process.env.GRIDSPOT_KEYSTORE ?? join(options.dataDir, "keystore.json"),
    password: process.env.GRIDSPOT_PASSWORD,
  });
}

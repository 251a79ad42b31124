import { parseArgs } from "node:util";
import { UsageError } from "../../errors/usage.ts";
import { GLOBAL_OPTION_SPEC } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

/** `provider status|redeem`: ask a running node's operator API (GRIDSPOT_API_URL, admin token for writes). */
export async function providerApi(action: "status" | "redeem", argv: string[]): Promise<CommandResult> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { ...GLOBAL_OPTION_SPEC, api: { type: "string" } },
  });
  const base = values.api ?? process.env.GRIDSPOT_API_URL ?? "http://127.0.0.1:8787";
  const response = await fetch(`${base}${action === "status" ? "/v1/status" : "/v1/redeem"}`, {
    method: action === "status" ? "GET" : "POST",
    headers: action === "redeem" ? { authorization: `Bearer ${process.env.GRIDSPOT_ADMIN_TOKEN ?? ""}` } : {},
    signal: AbortSignal.timeout(action === "status" ? 10_000 : 180_000),
  }).catch((error: Error) => {
    throw new UsageError(`Cannot reach the provider API at ${base}`, { cause: error });
  });
  const body = (await response.json()) as unknown;
  if (!response.ok)
    throw new UsageError(`The provider API answered ${response.status}`, { details: JSON.stringify(body) });
  return { json: body, text: JSON.stringify(body, null, 2) };
}

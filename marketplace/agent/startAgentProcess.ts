import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BaseError } from "../errors/base.ts";
import { agentRequest } from "./agentClient.ts";
import { agentFiles } from "./agentFiles.ts";
import { type AgentStatusAnswer, agentStatusAnswer } from "./agentRequests.ts";

/** How long `agent start` waits for the background agent to answer on its socket. */
const READY_TIMEOUT_MS = 60_000;

export class AgentStartError extends BaseError {
  override name = "AgentStartError";
}

/**
 * Starts the agent as a background process (`gridspot … agent start --foreground`, detached from this
 * terminal, its output appended to `<dataDir>/agent.log`) and waits until it answers on its socket.
 * It inherits this environment: GRIDSPOT_PASSWORD (or GRIDSPOT_PRIVATE_KEY) opens its wallet.
 * @throws AgentStartError with the end of its log when it exits or does not answer in time.
 */
export async function startAgentProcess(p: {
  dataDir: string;
  /** The global flags to run it with (`--rpc-url …`): the same chain, network and data dir. */
  globalArgs: string[];
  /** Flags of `agent start` itself (e.g. `--gateway-port 8788`). */
  startArgs?: string[] | undefined;
}): Promise<AgentStatusAnswer> {
  const files = agentFiles(p.dataDir);
  await mkdir(p.dataDir, { recursive: true, mode: 0o700 });
  const log = openSync(files.log, "a", 0o600);
  const executable = resolve(process.argv[1] ?? "gridspot");
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      executable,
      ...p.globalArgs,
      "agent",
      "start",
      "--foreground",
      ...(p.startArgs ?? []),
    ],
    { detached: true, stdio: ["ignore", log, log], env: process.env },
  );
  closeSync(log);
  let exited: number | string | undefined;
  child.once("exit", (code, signal) => {
    exited = code ?? signal ?? "unknown";
  });
  child.unref();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined)
      throw new AgentStartError(`The agent stopped as it started (exit ${exited})`, {
        details: logTail(files.log),
      });
    try {
      return await agentRequest(p.dataDir, {
        method: "GET",
        path: "/v1/status",
        schema: agentStatusAnswer,
        timeoutMs: 2_000,
      });
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGTERM");
        throw new AgentStartError(`The agent did not answer within ${READY_TIMEOUT_MS / 1000} s`, {
          details: logTail(files.log),
        });
      }
      await sleep(150);
    }
  }
}

/** The last lines of the agent's log: why it stopped, in its own words. */
function logTail(path: string): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-8).join("\n");
  } catch {
    return "(no log)";
  }
}

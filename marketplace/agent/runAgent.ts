import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import type { LocalAccount } from "viem";
import type { SubmitterSettings } from "../client/createSubmitter.ts";
import { currentOwner } from "../client/processOwner.ts";
import { BaseError } from "../errors/base.ts";
import { UsageError } from "../errors/usage.ts";
import { createLogger } from "../log/createLogger.ts";
import { agentFiles, runningAgent } from "./agentFiles.ts";
import { buildAgentApp } from "./buildAgentApp.ts";
import { createAgent } from "./createAgent.ts";

/** Unix socket paths are limited to 108 bytes on Linux (104 on macOS); keep clear of both. */
const MAX_SOCKET_PATH_BYTES = 100;

export class AgentRunningError extends BaseError {
  override name = "AgentRunningError";
}

/**
 * Runs the payer agent in this process until SIGTERM or SIGINT (`agent start --foreground`, or the
 * background process `agent start` spawns): claims `<dataDir>/agent.pid`, attaches again to the
 * detached jobs still running, serves the control socket; on the signal stops without ending any
 * job, removes the pid file and the socket.
 * @returns the jobs left running on their providers.
 */
export async function runAgent(
  settings: SubmitterSettings,
  account: LocalAccount,
  o: { gatewayPort?: number | undefined } = {},
): Promise<number> {
  const files = agentFiles(settings.dataDir);
  if (Buffer.byteLength(files.socket) > MAX_SOCKET_PATH_BYTES)
    throw new UsageError(`The data dir path is too long for the agent's socket: ${files.socket}`, {
      metaMessages: [`Use a --data-dir whose path is under ${MAX_SOCKET_PATH_BYTES - 11} bytes.`],
    });
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const other = runningAgent(settings.dataDir);
  if (other !== undefined)
    throw new AgentRunningError(`An agent already runs for ${settings.dataDir} (pid ${other.pid})`, {
      metaMessages: ["`gridspot agent status` shows it; `gridspot agent stop` stops it."],
    });
  // Claimed before anything starts: of two agents started at once, the second stops here.
  await rm(files.pid, { force: true });
  try {
    await writeFile(files.pid, `${process.pid}\n${currentOwner()}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    throw new AgentRunningError(`Another agent is starting for ${settings.dataDir}`);
  }
  const logger = createLogger("gridspot:agent");
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    const agent = await createAgent({ settings, account, logger, gatewayPort: o.gatewayPort });
    const app = buildAgentApp(agent);
    try {
      await rm(files.socket, { force: true });
      await app.listen({ path: files.socket });
      await chmod(files.socket, 0o600);
      const status = agent.status();
      logger.info("agent ready", {
        pid: status.pid,
        address: status.address,
        peerId: status.peerId,
        socket: files.socket,
        gateway: status.gatewayUrl,
        jobs: status.jobs.length,
      });
      await stopped.promise;
      const left = agent.status().jobs.length;
      logger.info("agent stopping", { jobsLeftRunning: left });
      await app.close();
      return left;
    } finally {
      await agent.stop();
    }
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await rm(files.socket, { force: true });
    await rm(files.pid, { force: true });
  }
}

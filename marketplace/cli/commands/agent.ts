import { setTimeout as sleep } from "node:timers/promises";
import { agentRequest } from "../../agent/agentClient.ts";
import { agentFiles, runningAgent } from "../../agent/agentFiles.ts";
import { agentStatusAnswer } from "../../agent/agentRequests.ts";
import { ownerAlive } from "../../client/processOwner.ts";
import { DEFAULT_GATEWAY_PORT } from "../../endpoint/constants.ts";
import { BaseError } from "../../errors/base.ts";
import { UsageError } from "../../errors/usage.ts";
import { formatDuration } from "../format.ts";
import { type GlobalOptions, loadCliAccount } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

/** How long `agent stop` waits for the agent to close its streams and exit. */
const STOP_WAIT_MS = 20_000;

/** The global flags that make the background agent use this invocation's chain, network and data dir. */
function globalArgs(o: GlobalOptions): string[] {
  return [
    "--rpc-url",
    o.rpcUrl,
    "--data-dir",
    o.dataDir,
    ...(o.deploymentsDir === undefined ? [] : ["--deployments", o.deploymentsDir]),
    ...o.bootstrap.flatMap((b) => ["--bootstrap", b]),
    ...(o.localNetwork ? ["--local-network"] : []),
  ];
}

/** `agent start [--foreground]`: the payer agent, in the background (default) or in this process. */
export async function agentStart(
  o: GlobalOptions,
  flags: { foreground?: boolean; gatewayPort?: string | undefined },
): Promise<CommandResult> {
  const files = agentFiles(o.dataDir);
  const gatewayPort = parseGatewayPort(flags.gatewayPort ?? process.env.GRIDSPOT_GATEWAY_PORT);
  if (flags.foreground === true) {
    // Loaded only here: the agent pulls in libp2p and the chain; `status` and `stop` need neither.
    const { runAgent } = await import("../../agent/runAgent.ts");
    const left = await runAgent(
      {
        dataDir: o.dataDir,
        rpcUrl: o.rpcUrl,
        deploymentsDir: o.deploymentsDir,
        bootstrap: o.bootstrap,
        localNetwork: o.localNetwork,
      },
      await loadCliAccount(o),
      { gatewayPort },
    );
    return { json: { running: false, jobsLeftRunning: left }, text: stoppedText(left) };
  }
  const already = runningAgent(o.dataDir);
  if (already !== undefined)
    return {
      json: { running: true, pid: already.pid, started: false },
      text: `The agent already runs (pid ${already.pid}).`,
    };
  // The wallet is checked here first: a wrong password is said now, not in the agent's log.
  await loadCliAccount(o);
  const { startAgentProcess } = await import("../../agent/startAgentProcess.ts");
  const status = await startAgentProcess({
    dataDir: o.dataDir,
    globalArgs: globalArgs(o),
    startArgs: ["--gateway-port", String(gatewayPort)],
  });
  return {
    json: {
      running: true,
      pid: status.pid,
      started: true,
      address: status.address,
      jobs: status.jobs,
      gatewayUrl: status.gatewayUrl,
    },
    text: [
      `Agent started (pid ${status.pid}) for ${status.address}; log ${files.log}`,
      `Endpoint gateway ${status.gatewayUrl}/e/<endpoint id>/…`,
      status.jobs.length > 0
        ? `It attached again to ${status.jobs.length} running job(s): ${status.jobs.join(", ")}`
        : "No detached job was running.",
    ].join("\n"),
  };
}

/** `agent stop`: SIGTERM, then wait until it has exited. Its jobs keep running on their providers. */
export async function agentStop(o: GlobalOptions): Promise<CommandResult> {
  const agent = runningAgent(o.dataDir);
  if (agent === undefined)
    return { json: { running: false, pid: null, stopped: false }, text: "No agent is running." };
  let jobs: string[] = [];
  try {
    jobs = (
      await agentRequest(o.dataDir, {
        method: "GET",
        path: "/v1/status",
        schema: agentStatusAnswer,
        timeoutMs: 5_000,
      })
    ).jobs;
  } catch {
    // It still gets the signal.
  }
  process.kill(agent.pid, "SIGTERM");
  const deadline = Date.now() + STOP_WAIT_MS;
  while (ownerAlive(agent.tag)) {
    if (Date.now() > deadline)
      throw new BaseError(`The agent (pid ${agent.pid}) did not stop within ${STOP_WAIT_MS / 1000} s`, {
        metaMessages: [
          `Its log is ${agentFiles(o.dataDir).log}; \`kill -9 ${agent.pid}\` stops it at once (its jobs are resumed on the next start).`,
        ],
      });
    await sleep(100);
  }
  return {
    json: { running: false, pid: agent.pid, stopped: true, jobsLeftRunning: jobs },
    text: `Agent stopped (pid ${agent.pid}).\n${stoppedText(jobs.length)}`,
  };
}

/** `agent status`: whether it runs, its pid, and the jobs it runs. */
export async function agentStatus(o: GlobalOptions): Promise<CommandResult> {
  const agent = runningAgent(o.dataDir);
  if (agent === undefined)
    return { json: { running: false, pid: null }, text: `No agent is running for ${o.dataDir}.` };
  const status = await agentRequest(o.dataDir, {
    method: "GET",
    path: "/v1/status",
    schema: agentStatusAnswer,
    timeoutMs: 5_000,
  });
  return {
    json: { ...status, socket: agentFiles(o.dataDir).socket, log: agentFiles(o.dataDir).log },
    text: [
      `Agent running (pid ${status.pid}) for ${status.address}, up ${formatDuration(Date.now() - status.startedAt)}`,
      `Jobs ${status.jobs.length === 0 ? "none running" : status.jobs.join(", ")}`,
      `Gateway ${status.gatewayUrl ?? "off"}`,
      `Log  ${agentFiles(o.dataDir).log}`,
    ].join("\n"),
  };
}

function stoppedText(left: number): string {
  return left === 0
    ? "No job was running."
    : `${left} job(s) keep running on their providers: each is suspended after its grace period (not billed) and waits up to its --max-suspended for the agent to start again.`;
}

/** `--gateway-port` (or GRIDSPOT_GATEWAY_PORT): a TCP port, 0 for a free one; DEFAULT_GATEWAY_PORT when absent. */
function parseGatewayPort(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_GATEWAY_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new UsageError(`--gateway-port must be a TCP port from 0 to 65535 (got ${JSON.stringify(text)})`);
  return port;
}

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ownerAlive } from "../client/processOwner.ts";

/** The payer agent's files in the submitter's data dir. */
export function agentFiles(dataDir: string) {
  return {
    /** The agent's pid on its first line, and its process tag (pid-starttime) on the second. */
    pid: join(dataDir, "agent.pid"),
    /** Its control socket (HTTP over a Unix socket, owner-only): `job submit --detach`, `job cancel`. */
    socket: join(dataDir, "agent.sock"),
    /** What it logs, when started in the background. */
    log: join(dataDir, "agent.log"),
  };
}

/**
 * The agent running for this data dir, if one is: its pid file names a process that still runs (the
 * start time in the tag tells a reused pid apart). A stale file (a SIGKILLed agent) is no agent.
 */
export function runningAgent(dataDir: string): { pid: number; tag: string } | undefined {
  let text: string;
  try {
    text = readFileSync(agentFiles(dataDir).pid, "utf8");
  } catch {
    return undefined;
  }
  const [pidLine, tag] = text.split("\n");
  const pid = Number(pidLine);
  if (!Number.isSafeInteger(pid) || pid <= 0 || tag === undefined || tag === "") return undefined;
  return ownerAlive(tag) ? { pid, tag } : undefined;
}

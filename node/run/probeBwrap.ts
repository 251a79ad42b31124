import { execFile } from "node:child_process";
import { BWRAP_PROBE_ARGS, BWRAP_PROBE_TIMEOUT_MS } from "./constants.ts";
import { findExecutable } from "./findExecutable.ts";

/** Whether bubblewrap can sandbox jobs here, and with which binary. */
export type BwrapProbe = { available: true; path: string } | { available: false; reason: string };

const probes = new Map<string, Promise<BwrapProbe>>();

/**
 * Runs a minimal sandbox once per bwrap command and caches the answer for the process lifetime
 * (kernels rarely gain or lose user namespaces while a daemon runs). Never rejects.
 */
export function probeBwrap(bwrapCommand = "bwrap"): Promise<BwrapProbe> {
  let probe = probes.get(bwrapCommand);
  if (probe === undefined) {
    probe = runProbe(bwrapCommand);
    probes.set(bwrapCommand, probe);
  }
  return probe;
}

function runProbe(bwrapCommand: string): Promise<BwrapProbe> {
  const path = findExecutable(bwrapCommand, process.env.PATH);
  if (path === undefined)
    return Promise.resolve({ available: false, reason: `${bwrapCommand} not found on PATH` });
  return new Promise((resolve) => {
    execFile(path, BWRAP_PROBE_ARGS, { timeout: BWRAP_PROBE_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error === null) resolve({ available: true, path });
      else
        resolve({
          available: false,
          reason: `${path} ${BWRAP_PROBE_ARGS.join(" ")} failed: ${stderr.trim() || error.message}`,
        });
    });
  });
}

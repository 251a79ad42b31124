import { type ChildProcess, spawn } from "node:child_process";

/** Node one-liner that burns `ms` of its own CPU time (not wall time), so load elsewhere cannot skew it. */
export const burnCpu = (ms: number) =>
  `const s=process.cpuUsage();for(;;){const u=process.cpuUsage(s);if(u.user+u.system>=${ms * 1000})break;}`;

/** Starts `sh -c script` with `node` resolving to this Node. */
export function startShell(script: string): ChildProcess {
  return spawn("sh", ["-c", script], {
    stdio: "ignore",
    env: { ...process.env, NODE: process.execPath },
  });
}

/** Resolves when the child exits. */
export const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

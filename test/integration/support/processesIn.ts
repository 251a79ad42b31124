import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { sep } from "node:path";

/**
 * Pids of this user's processes whose working directory is `dir` or below it: the jobs a provider
 * started under its data dir, which a test must not leave behind when it kills the provider.
 */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // gone, or not ours
    }
    if (cwd === dir || cwd.startsWith(dir + sep)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILLs each process left under `dir`, by pid. */
export function killProcessesIn(dir: string): number[] {
  const pids = processesIn(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** SIGKILLs each process of this user whose command line has every one of `args` (e.g. an agent's data dir). */
export function killProcessesWith(args: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let words: string[];
    try {
      words = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!args.every((a) => words.includes(a))) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
      pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

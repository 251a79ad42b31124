import { readFileSync } from "node:fs";

/**
 * This process as the owner of a job: `pid:starttime` (the start time, in clock ticks after boot,
 * from /proc, so a pid reused by another process never passes for the owner). `pid:0` where /proc
 * is not readable.
 */
export function currentOwner(): string {
  return `${process.pid}:${startTimeOf(process.pid) ?? "0"}`;
}

/** Whether the process an owner tag names still runs (a zombie does not). */
export function ownerAlive(owner: string): boolean {
  const [pidText, start] = owner.split(":");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const now = startTimeOf(pid);
  if (now === undefined) {
    // No /proc: ask the kernel whether the pid exists at all.
    try {
      process.kill(pid, 0);
      return start === "0";
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  return start === "0" || now === start;
}

/** Field 22 of /proc/<pid>/stat, or undefined when the process is gone (or a zombie). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

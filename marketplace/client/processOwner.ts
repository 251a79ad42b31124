import { processTag } from "../process/processTag.ts";

/**
 * This process as the owner of a job: its {@link processTag} (`pid-starttime`, so a pid reused by
 * another process never passes for the owner), or `pid-0` where /proc is not readable.
 */
export function currentOwner(): string {
  return processTag() ?? `${process.pid}-0`;
}

/** Whether the process an owner tag names still runs (a zombie does not). */
export function ownerAlive(owner: string): boolean {
  const [pidText, start] = owner.split("-");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (start !== "0") return processTag(pid) === owner;
  // No start time was known: ask the kernel whether the pid exists at all.
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

import { readFileSync } from "node:fs";
import { parseProcStat } from "../../meter/parseProcStat.ts";

/**
 * `<pid>-<start time>` of a live process, which names it across pid reuse (the start time is in
 * clock ticks after boot); undefined when it is gone. Job cgroups carry their daemon's tag, so that
 * a restarted daemon can tell its predecessor's leftovers from another live daemon's jobs.
 */
export function processTag(pid: number = process.pid): string | undefined {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return stat === undefined ? undefined : `${pid}-${stat.starttime}`;
  } catch {
    return undefined;
  }
}

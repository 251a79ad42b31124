import { readFileSync } from "node:fs";

/**
 * `<pid>-<start time>` of a live process (the start time in clock ticks after boot, field 22 of
 * /proc/<pid>/stat), which names it across pid reuse; undefined when it is gone, a zombie, or /proc
 * is not readable. Job cgroups carry their daemon's tag and submitter jobs their CLI's, so that
 * leftovers of a process that died are told from those of one that still runs.
 */
export function processTag(pid: number = process.pid): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    const start = fields[19];
    return start === undefined ? undefined : `${pid}-${start}`;
  } catch {
    return undefined;
  }
}

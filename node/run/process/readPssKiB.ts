import { readFileSync } from "node:fs";

/**
 * Σ proportional set size of `pids`, KiB, from /proc/<pid>/smaps_rollup: a page shared by n
 * processes counts 1/n in each, so the sum counts shared pages (libraries, a forked parent's heap)
 * once, where Σ RSS would count them once per process. Processes gone or unreadable count 0.
 */
export function readPssKiB(pids: readonly number[]): bigint {
  let total = 0n;
  for (const pid of pids) {
    try {
      const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (match?.[1] !== undefined) total += BigInt(match[1]);
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return total;
}

/** The fields of /proc/<pid>/stat that metering and process control use. Times in clock ticks. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
  utime: bigint;
  stime: bigint;
  /** CPU time of waited-for (reaped) children, so a tree's total survives a child's exit. */
  cutime: bigint;
  cstime: bigint;
  /** Start time after boot in ticks: with pid, identifies a process across pid reuse. */
  starttime: bigint;
  /** Resident set size in pages. */
  rssPages: bigint;
}

/**
 * Parses one /proc/<pid>/stat line (proc(5)). The command name may hold spaces and parentheses, so
 * fields are counted from its last `)`.
 * @returns undefined when the text is not a stat line (e.g. read while the process vanished).
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  // f[0] is field 3 (state) of proc(5); field n is f[n - 3].
  const f = text
    .slice(close + 2)
    .trim()
    .split(" ");
  if (f.length < 22) return undefined;
  const int = (n: number) => BigInt(f[n - 3] ?? "0");
  try {
    return {
      pid: Number(text.slice(0, open).trim()),
      comm: text.slice(open + 1, close),
      state: f[0] ?? "?",
      ppid: Number(int(4)),
      pgid: Number(int(5)),
      utime: int(14),
      stime: int(15),
      cutime: int(16),
      cstime: int(17),
      starttime: int(22),
      rssPages: int(24),
    };
  } catch {
    return undefined;
  }
}

import { execFileSync } from "node:child_process";

/** Kernel constants needed to read /proc: clock ticks per second and the page size in KiB. */
export interface ProcConstants {
  clockTicks: bigint;
  pageKiB: bigint;
}

let cached: ProcConstants | undefined;

/**
 * Reads `getconf CLK_TCK` and `getconf PAGESIZE` once per process. Falls back to Linux's usual
 * 100 ticks and 4 KiB pages when getconf is missing or prints something unexpected.
 */
export function procConstants(): ProcConstants {
  cached ??= {
    clockTicks: BigInt(getconf("CLK_TCK") ?? 100),
    pageKiB: BigInt(Math.max(1, Math.floor((getconf("PAGESIZE") ?? 4096) / 1024))),
  };
  return cached;
}

function getconf(name: string): number | undefined {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8", timeout: 2_000 }).trim());
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

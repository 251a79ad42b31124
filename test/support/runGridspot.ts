import { execFile } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

/** How a run of the executable ended: its exit code and what it printed. */
export type Run = { code: number; stdout: string; stderr: string };

/**
 * Runs the real executable (`node bin/gridspot.ts ARGS`) in `cwd` with exactly `env` (and this
 * PATH): no variable of the test process leaks in. Resolves with the exit code, also for a failing
 * command; rejects only when it could not run (or ran past `timeoutMs`, default 60 s).
 */
export function runGridspot(
  args: readonly string[],
  o: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<Run> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/gridspot.ts"), ...args],
      { cwd: o.cwd, timeout: o.timeoutMs ?? 60_000, env: { PATH: process.env.PATH ?? "", ...o.env } },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") fail(error);
        else done({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

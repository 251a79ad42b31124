import { readFileSync } from "node:fs";
import type { ProcessJobHandle } from "../../../node/run/types.ts";

/** The Node running the tests: visible inside the sandbox, since the host root is bound read-only. */
export const NODE = process.execPath;

/** True when the process no longer runs (missing, or a zombie nobody has reaped yet). */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Polls `check` every 20 ms for at most `timeoutMs`; returns its last answer. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Collects a job's stdout as text. */
export function textSink() {
  const chunks: Buffer[] = [];
  return {
    onStdout: (chunk: Buffer) => {
      chunks.push(chunk);
    },
    chunks,
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

/** Kills a job that a failed assertion left running. */
export async function reap(handle: ProcessJobHandle | undefined) {
  if (handle !== undefined) await handle.cancel("test cleanup");
}

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";
import { usageEvent } from "./usageEvent.ts";

const writer = join(import.meta.dirname, "crashWriter.ts");
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-crash-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer; resolves after it exits (or after `kill` is sent once batch A is committed). */
function runWriter(path: string, mode: string, size: number, killAfterMs?: number) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [writer, path, mode, String(size)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (killAfterMs !== undefined && stdout.includes("a-committed")) {
          setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        }
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
}

const sum = (n: number) => (BigInt(n) * BigInt(n + 1)) / 2n;

describe("store crash safety", () => {
  it("keeps the committed batch and none of a batch cut off mid-transaction", async () => {
    const path = join(dir, "node.sqlite");
    const run = await runWriter(path, "exit-mid-batch", 100);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(3);

    const store = openProviderStore(path);
    expect(store.db.prepare("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(usageTotals(store, "job-a")).toEqual({ gpu_ms: sum(100) });
    expect(usageTotals(store, "job-b")).toEqual({});
    // The cut-off events were never marked seen: delivering them again stores them.
    const retry = Array.from({ length: 100 }, (_, i) => usageEvent("job-b", "gpu_ms", i, BigInt(i + 1)));
    expect(insertUsageEvents(store, retry).inserted).toHaveLength(100);
    expect(insertUsageEvents(store, retry).duplicates).toHaveLength(100);
    store.close();
  });

  it("survives SIGKILL while batches are being written: each batch is all or nothing", async () => {
    const path = join(dir, "node.sqlite");
    const size = 2000;
    const run = await runWriter(path, "kill-during-batch", size, 300);
    expect(run.signal).toBe("SIGKILL");

    const store = openProviderStore(path);
    expect(store.db.prepare("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(usageTotals(store, "job-a")).toEqual({ gpu_ms: sum(size) });
    const perJob = store.db
      .prepare("SELECT job_id, COUNT(*) AS n FROM usage_events GROUP BY job_id")
      .all() as { job_id: string; n: number }[];
    expect(perJob.length).toBeGreaterThan(1); // it was killed while writing later batches
    for (const row of perJob) expect(row.n).toBe(size);
    store.close();
  });
});

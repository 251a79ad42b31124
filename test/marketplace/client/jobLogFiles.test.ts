import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createJobLogFiles, jobLogFile } from "../../../marketplace/client/jobLogFiles.ts";
import { settleOrphanedJobs } from "../../../marketplace/client/settleOrphanedJobs.ts";
import {
  getSubmitterJob,
  insertSubmitterJob,
  openSubmitterStore,
} from "../../../marketplace/client/submitterStore.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";

let dir: string;
let store: Store;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(detached: boolean) {
  dir = mkdtempSync(join(tmpdir(), "gridspot-logs-"));
  store = openSubmitterStore(join(dir, "submitter.db"));
  insertSubmitterJob(store, {
    jobId: "job-logs-000001",
    provider: "0x0000000000000000000000000000000000000001",
    channelId: 1n,
    channelBase: 0n,
    agreement: "{}",
    spec: "{}",
    budget: 1n,
    createdAt: 1,
    detached,
  });
}

const text = (stream: "stdout" | "stderr") =>
  readFileSync(jobLogFile(dir, "job-logs-000001", stream), "utf8");

describe("a job's log files", () => {
  it("keep every byte once when the provider re-sends what the agent already holds", () => {
    open(true);
    const first = createJobLogFiles({
      store,
      dataDir: dir,
      jobId: "job-logs-000001",
      held: { stdout: 0, stderr: 0 },
    });
    first.write("stdout", Buffer.from("line 1\n"), 0);
    first.write("stdout", Buffer.from("line 2\n"), 7);
    first.write("stderr", Buffer.from("warn\n"), 0);
    first.close();
    // A restarted agent attaches with the store's counts; the provider's replay overlaps them.
    const held = getSubmitterJob(store, "job-logs-000001")?.logBytes;
    expect(held).toEqual({ stdout: 14, stderr: 5 });
    const again = createJobLogFiles({
      store,
      dataDir: dir,
      jobId: "job-logs-000001",
      held: held ?? { stdout: 0, stderr: 0 },
    });
    again.write("stdout", Buffer.from("line 2\nline 3\n"), 7);
    again.write("stdout", Buffer.from("line 1\n"), 0);
    again.write("stdout", Buffer.from("line 4\n"), 21);
    again.close();
    expect(text("stdout")).toBe("line 1\nline 2\nline 3\nline 4\n");
    expect(text("stderr")).toBe("warn\n");
    expect(getSubmitterJob(store, "job-logs-000001")?.logBytes).toEqual({ stdout: 28, stderr: 5 });
  });

  it("say where bytes the provider no longer kept are missing, and count them as held", () => {
    open(true);
    const logs = createJobLogFiles({
      store,
      dataDir: dir,
      jobId: "job-logs-000001",
      held: { stdout: 0, stderr: 0 },
    });
    logs.write("stdout", Buffer.from("a\n"), 0);
    logs.gap("stdout", 1000);
    logs.write("stdout", Buffer.from("b\n"), 1002);
    // A chunk that starts past what is held says so too.
    logs.write("stdout", Buffer.from("c\n"), 1010);
    logs.close();
    expect(text("stdout")).toMatch(
      /^a\n\n\[gridspot: 1000 bytes of stdout were written while the agent was away.*\]\nb\n\n\[gridspot: 6 bytes of stdout .*\]\nc\n$/,
    );
    expect(getSubmitterJob(store, "job-logs-000001")?.logBytes.stdout).toBe(1012);
  });

  it("belong to a detached job the agent owns: no CLI command settles it as lost", () => {
    open(true);
    expect(settleOrphanedJobs(store)).toEqual([]);
    expect(getSubmitterJob(store, "job-logs-000001")?.status).toBe("running");
    expect(getSubmitterJob(store, "job-logs-000001")?.owner).toBe("agent");
  });
});

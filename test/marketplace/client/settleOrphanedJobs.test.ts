import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { currentOwner, ownerAlive } from "../../../marketplace/client/processOwner.ts";
import { ORPHANED_REASON, settleOrphanedJobs } from "../../../marketplace/client/settleOrphanedJobs.ts";
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

function job(jobId: string, channelId: bigint) {
  insertSubmitterJob(store, {
    jobId,
    provider: "0x0000000000000000000000000000000000000001",
    channelId,
    channelBase: 0n,
    agreement: "{}",
    spec: "{}",
    budget: 1n,
    createdAt: 1,
  });
  store.db
    .prepare(
      "INSERT INTO channels (channel_id, escrow, provider, amount, signed, expiry, status, busy_job) VALUES (?, '0x0', '0x1', '10', '0', 0, 'open', ?)",
    )
    .run(channelId.toString(), jobId);
}

const busyJob = (channelId: bigint) =>
  (
    store.db.prepare("SELECT busy_job FROM channels WHERE channel_id = ?").get(channelId.toString()) as {
      busy_job: string | null;
    }
  ).busy_job;

describe("settleOrphanedJobs", () => {
  it("ends a job whose CLI process is gone as lost and frees its channel; a live one is left alone", () => {
    dir = mkdtempSync(join(tmpdir(), "gridspot-orphans-"));
    store = openSubmitterStore(join(dir, "submitter.db"));
    job("job-live-000001", 1n);
    job("job-dead-000002", 2n);
    // The second job's CLI: a process that has exited (its pid and start time name nothing now).
    const dead = spawnSync(process.execPath, [
      "-e",
      "process.stdout.write(require('node:fs').readFileSync('/proc/self/stat','utf8'))",
    ]);
    const stat = dead.stdout.toString();
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const deadOwner = `${stat.split(" ")[0]}-${fields[19]}`;
    store.db.prepare("UPDATE jobs SET owner = ? WHERE job_id = 'job-dead-000002'").run(deadOwner);
    expect(ownerAlive(deadOwner)).toBe(false);
    expect(ownerAlive(currentOwner())).toBe(true);

    expect(settleOrphanedJobs(store, 42)).toEqual(["job-dead-000002"]);
    const lost = getSubmitterJob(store, "job-dead-000002");
    expect(lost).toMatchObject({
      status: "lost",
      reason: ORPHANED_REASON,
      endedAt: 42,
      reasonCode: "unpaid",
    });
    expect(busyJob(2n)).toBeNull();
    expect(getSubmitterJob(store, "job-live-000001")?.status).toBe("running");
    expect(busyJob(1n)).toBe("job-live-000001");
    // Settled once: a second pass finds nothing.
    expect(settleOrphanedJobs(store)).toEqual([]);
  });

  it("never takes a reused pid for the job's CLI: the start time must match too", () => {
    dir = mkdtempSync(join(tmpdir(), "gridspot-orphans-"));
    store = openSubmitterStore(join(dir, "submitter.db"));
    const [pid] = currentOwner().split("-");
    expect(ownerAlive(`${pid}-1`)).toBe(false);
  });
});

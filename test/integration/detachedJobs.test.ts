// Jobs that outlive the terminal (issue 11 §1), through the real `gridspot` executable against anvil
// and real provider processes: the payer agent runs detached jobs; SIGKILLed or stopped mid-job and
// started again, it attaches again and the job completes, paid exactly what was signed; the
// provider keeps the job suspended (not billed) while the agent is away.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runningAgent } from "../../marketplace/agent/agentFiles.ts";
import {
  getSubmitterJob,
  listJobVouchers,
  openSubmitterStore,
} from "../../marketplace/client/submitterStore.ts";
import { type Run, runGridspot } from "../support/runGridspot.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import { GPU_CLASS, startTestProvider, type TestProvider } from "./support/nodes.ts";
import { killProcessesIn, killProcessesWith } from "./support/processesIn.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

/** What the provider allows a job to wait suspended for its payer (the order asks for 30 s). */
const MAX_SUSPENDED_S = 60;

let market: Market;
let provider: TestProvider;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  provider = await startTestProvider(market, { config: { limits: limitsWith(MAX_SUSPENDED_S) } });
}, 60_000);
afterEach(() => cleanups.run());
afterAll(async () => {
  await killProcessesIn(join(provider?.dataDir ?? "/nonexistent", "jobs"));
  await provider?.stop();
  await market?.stop();
});

/** The test provider's limits, with `maxSuspendedS`. */
function limitsWith(maxSuspendedS: number) {
  return { cpuCores: 2, memMiB: 4096, maxDurationS: 600, holdMs: 30_000, maxSuspendedS };
}

/** A submitter: its own funded wallet and data dir, and the executable run with them. */
async function newSubmitter(name: string) {
  const { key } = await market.fundAccount(10n * GRID);
  const dataDir = join(market.work, name);
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: market.work,
    GRIDSPOT_PRIVATE_KEY: key,
    GRIDSPOT_RPC_URL: market.rpcUrl,
    GRIDSPOT_DEPLOYMENTS_DIR: market.deploymentsDir,
    GRIDSPOT_DATA_DIR: dataDir,
    GRIDSPOT_BOOTSTRAP: provider.info.multiaddrs[0] ?? "",
    GRIDSPOT_LOCAL_NETWORK: "1",
    GRIDSPOT_LOG: "info",
    // The agent's endpoint gateway on a free port, never 8788.
    GRIDSPOT_GATEWAY_PORT: "0",
  };
  const gridspot = (args: string[], timeoutMs = 60_000): Promise<Run> =>
    runGridspot(args, { cwd: market.work, timeoutMs: timeoutMs, env });
  // Whatever a test leaves, no agent outlives it: the one in the pid file, and any still starting.
  cleanups.add(async () => {
    const agent = runningAgent(dataDir);
    if (agent !== undefined) process.kill(agent.pid, "SIGKILL");
    killProcessesWith(["agent", "start", "--foreground", dataDir]);
  });
  return { dataDir, gridspot };
}

/** A job that prints `ticks` numbered lines `everyMs` apart, then writes result.txt. */
function tickingJob(ticks: number, everyMs: number, maxSuspended = "30s"): string[] {
  const script = [
    'const fs=require("node:fs");let i=0;',
    'const t=setInterval(()=>{console.log("tick "+i);',
    `if(++i>=${ticks}){clearInterval(t);fs.writeFileSync("result.txt","ticked ${ticks}\\n");}},${everyMs});`,
  ].join("");
  return [
    "job",
    "submit",
    "--detach",
    "--json",
    "--gpus",
    "1",
    "--gpu-class",
    GPU_CLASS,
    "--max-price-gpu-hour",
    "5",
    "--budget",
    "1",
    "--max-duration",
    "120",
    "--max-suspended",
    maxSuspended,
    "--bid-window",
    "1000",
    "--output",
    "result.txt",
    "--",
    process.execPath,
    "-e",
    script,
  ];
}

const json = (run: Run) => {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
};

/** The job as the submitter's store has it, read the way `job status` does. */
function storedJob(dataDir: string, jobId: string) {
  const store = openSubmitterStore(join(dataDir, "submitter.db"));
  try {
    const job = getSubmitterJob(store, jobId);
    if (job === undefined) throw new Error(`no job ${jobId}`);
    return { job, vouchers: listJobVouchers(store, jobId) };
  } finally {
    store.close();
  }
}

/** The provider's own record of the job (its operator API). */
function providerJob(jobId: string) {
  return getJson<{ status: string; startedAt: number; endedAt: number | null }>(
    provider.api(`/v1/jobs/${jobId}`),
  );
}

/** Waits until the chain's `redeemed` on the job's channel reaches its last signed voucher. */
async function expectPaidExactly(dataDir: string, jobId: string) {
  const { job, vouchers } = storedJob(dataDir, jobId);
  const last = vouchers.at(-1);
  expect(last).toBeDefined();
  if (last === undefined) return;
  await waitFor(
    "the provider's redemption",
    async () => ((await market.channel(job.channelId)).redeemed >= last.cumulativeAmount ? true : undefined),
    { timeoutMs: 30_000 },
  );
  const channel = await market.channel(job.channelId);
  // Exactly what was signed: nothing lost, nothing paid twice.
  expect(channel.redeemed).toBe(last.cumulativeAmount);
  expect(last.cumulativeAmount - job.channelBase).toBe(job.amount);
}

// Each step is a real `gridspot` process (Node starting, a wallet, the chain, libp2p): on a loaded
// 2-core CI machine a flow of ten of them takes a minute or more.
describe("the payer agent", { timeout: 180_000 }, () => {
  it("says in words that --detach needs an agent, and agent status tells whether one runs", async () => {
    const s = await newSubmitter("no-agent");
    const submit = await s.gridspot(tickingJob(1, 100));
    expect(submit.code).toBe(1);
    expect(submit.stderr).toContain("No payer agent is running");
    expect(submit.stderr).toContain("gridspot agent start");
    expect(submit.stderr).not.toMatch(/\n\s+at /);
    expect(json(await s.gridspot(["agent", "status", "--json"]))).toMatchObject({
      running: false,
      pid: null,
    });
  });

  it("runs a detached job to its end: id at once, logs, outputs kept until fetched, paid exactly", async () => {
    const s = await newSubmitter("detached");
    const started = await s.gridspot(["agent", "start", "--json"]);
    expect(started.code, started.stderr).toBe(0);
    const status = json(await s.gridspot(["agent", "status", "--json"]));
    expect(status).toMatchObject({ running: true, pid: json(started).pid });
    expect(await readFile(join(s.dataDir, "agent.pid"), "utf8")).toMatch(new RegExp(`^${status.pid}\n`));

    const submit = await s.gridspot(tickingJob(5, 200));
    expect(submit.code, submit.stderr).toBe(0);
    const answer = json(submit);
    expect(answer).toMatchObject({ status: "running" });
    const jobId = String(answer.jobId);
    // The submit returned as soon as the job was placed: it is still running now.
    expect(storedJob(s.dataDir, jobId).job.status).toBe("running");

    const attach = await s.gridspot(["job", "attach", jobId, "--json"]);
    expect(attach.code, attach.stderr).toBe(0);
    expect(json(attach)).toMatchObject({ jobId, status: "completed" });
    expect(attach.stdout + attach.stderr).toContain("tick 4");

    const logs = await s.gridspot(["job", "logs", jobId]);
    expect(logs.stdout).toBe("tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n");
    const listed = await s.gridspot(["job", "list"]);
    expect(listed.stdout).toContain(`outputs waiting (gridspot job outputs ${jobId})`);

    const outDir = join(market.work, "fetched");
    const outputs = await s.gridspot(["job", "outputs", jobId, "--out-dir", outDir, "--json"]);
    expect(outputs.code, outputs.stderr).toBe(0);
    expect(await readFile(join(outDir, jobId, "result.txt"), "utf8")).toBe("ticked 5\n");
    expect((await s.gridspot(["job", "list"])).stdout).not.toContain("outputs waiting");
    await expectPaidExactly(s.dataDir, jobId);

    const stop = await s.gridspot(["agent", "stop", "--json"]);
    expect(json(stop)).toMatchObject({ running: false, stopped: true });
    expect(runningAgent(s.dataDir)).toBeUndefined();
  });

  it("cancels a detached job: billed up to the stop, ends cancelled", async () => {
    const s = await newSubmitter("cancel");
    expect((await s.gridspot(["agent", "start"])).code).toBe(0);
    const jobId = String(json(await s.gridspot(tickingJob(200, 100))).jobId);
    await waitFor("a first note", () => (storedJob(s.dataDir, jobId).job.amount > 0n ? true : undefined));
    const cancel = await s.gridspot(["job", "cancel", jobId, "--json"]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(json(cancel)).toMatchObject({ jobId, status: "cancelled" });
    await expectPaidExactly(s.dataDir, jobId);
  });

  it("resumes a job after the agent is SIGKILLed mid-job: it completes, outputs fetched, paid exactly", async () => {
    const s = await newSubmitter("sigkill");
    const agent = json(await s.gridspot(["agent", "start", "--json"]));
    const jobId = String(json(await s.gridspot(tickingJob(30, 200))).jobId);
    await waitFor("the first log lines", () =>
      storedJob(s.dataDir, jobId).job.logBytes.stdout > 0 ? true : undefined,
    );
    process.kill(Number(agent.pid), "SIGKILL");
    // The job stays the agent's: no other command calls it lost.
    expect(json(await s.gridspot(["job", "status", jobId, "--json"]))).toMatchObject({ status: "running" });
    await sleep(2_500);
    const again = json(await s.gridspot(["agent", "start", "--json"]));
    expect(again.jobs).toEqual([jobId]);
    const attach = await s.gridspot(["job", "attach", jobId, "--json"], 90_000);
    expect(json(attach)).toMatchObject({ jobId, status: "completed" });
    // Every line exactly once, across the two agents.
    const logs = await s.gridspot(["job", "logs", jobId]);
    expect(logs.stdout).toBe(`${Array.from({ length: 30 }, (_, i) => `tick ${i}\n`).join("")}`);
    const outDir = join(market.work, "fetched-sigkill");
    expect((await s.gridspot(["job", "outputs", jobId, "--out-dir", outDir])).code).toBe(0);
    expect(await readFile(join(outDir, jobId, "result.txt"), "utf8")).toBe("ticked 30\n");
    await expectPaidExactly(s.dataDir, jobId);
  });

  it("keeps the job suspended, unbilled, while the agent is stopped, and resumes it when it starts", async () => {
    const s = await newSubmitter("asleep");
    expect((await s.gridspot(["agent", "start"])).code).toBe(0);
    const jobId = String(json(await s.gridspot(tickingJob(40, 200))).jobId);
    // The job starts after the submit returns: its wall time is at most what passes from here.
    const placedAt = Date.now();
    await waitFor("the first log lines", () =>
      storedJob(s.dataDir, jobId).job.logBytes.stdout > 0 ? true : undefined,
    );
    const stop = json(await s.gridspot(["agent", "stop", "--json"]));
    expect(stop.jobsLeftRunning).toEqual([jobId]);
    const awayMs = 6_000;
    await sleep(awayMs);
    // Past the grace period (1 s here), well within --max-suspended (30 s): suspended, not ended.
    expect((await providerJob(jobId)).status).toBe("running");
    const list = await s.gridspot(["job", "list"]);
    expect(list.stdout).toContain("agent not running: suspended on its provider");
    expect((await s.gridspot(["agent", "start"])).code).toBe(0);
    const attach = json(await s.gridspot(["job", "attach", jobId, "--json"], 90_000));
    expect(attach).toMatchObject({ status: "completed" });
    const wallMs = BigInt(Date.now() - placedAt);
    await expectPaidExactly(s.dataDir, jobId);
    // The suspended stretch (the 6 s away less the 1 s grace period) is not billed: 40 ticks of
    // 200 ms need 8 s of running, and the GPU time billed is about that, well under the wall time.
    const { job } = storedJob(s.dataDir, jobId);
    const billedGpuMs = BigInt(job.usage.gpu_ms ?? "0");
    expect(billedGpuMs).toBeGreaterThan(7_000n);
    expect(billedGpuMs).toBeLessThan(wallMs - 3_000n);
  });

  it("asks the provider when the agent stays away: the job it ended past --max-suspended shows so", async () => {
    const s = await newSubmitter("gone");
    const agent = json(await s.gridspot(["agent", "start", "--json"]));
    const jobId = String(json(await s.gridspot(tickingJob(200, 100, "2s"))).jobId);
    await waitFor("a first voucher", () => (storedJob(s.dataDir, jobId).job.amount > 0n ? true : undefined));
    process.kill(Number(agent.pid), "SIGKILL");
    // Suspended after the grace period, ended 2 s later: `job status` hears it from the provider.
    const status = await waitFor(
      "the provider's end of the job",
      async () => {
        const run = json(await s.gridspot(["job", "status", jobId, "--json"]));
        return run.status === "running" ? undefined : run;
      },
      { timeoutMs: 40_000, intervalMs: 1_000 },
    );
    expect(status).toMatchObject({ status: "failed", reasonCode: "suspended-timeout" });
    expect(status.providerSays).toMatchObject({ kind: "ended", status: "suspended" });
    const { job, vouchers } = storedJob(s.dataDir, jobId);
    // What was signed is what the provider redeems: nothing more, nothing lost.
    await expectPaidExactly(s.dataDir, jobId);
    expect(vouchers.length).toBeGreaterThan(0);
    expect(job.status).toBe("failed");
    // The next agent has nothing to resume.
    expect(json(await s.gridspot(["agent", "start", "--json"])).jobs).toEqual([]);
  });
});

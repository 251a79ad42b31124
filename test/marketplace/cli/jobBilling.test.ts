import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSubmitterStore } from "../../../marketplace/client/submitterStore.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";
import { type ChainChannel, chainChannel } from "../client/chainChannel.ts";
import { GRID, HOUR_MS } from "../messages/fixtures.ts";
import { type BilledJob, billedJob, storeBilledJob } from "../receipt/billedJob.ts";

const RATES: Rate[] = [
  {
    meter: "gpu_ms",
    price: GRID,
    per: HOUR_MS,
    tiers: { mode: "graduated", bands: [{ upTo: 20_000n, price: 2n * GRID }] },
  },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
];

let net: ChainChannel;
let home: string;
let dataDir: string;
let done: BilledJob; // completed and redeemed
let running: BilledJob; // still running on the same channel, not redeemed
let redeemTx: Hex;

beforeAll(async () => {
  net = await chainChannel(10n * GRID);
  home = await mkdtemp(join(tmpdir(), "gridspot-cli-billing-"));
  dataDir = join(home, "data");
  const common = {
    chainId: net.chain.chainId,
    escrow: net.deployment.contracts.computeEscrow,
    providerKey: net.providerKey,
    submitterKey: net.payerKey,
    channelId: net.channelId,
    rates: RATES,
    granularity: "s" as const,
  };
  done = await billedJob({
    ...common,
    jobId: "job-cli-done-01",
    usages: [
      { gpu_ms: 10_000n, cpu_core_ms: 3_000n },
      { gpu_ms: 30_000n, cpu_core_ms: 7_500n },
    ],
  });
  const base = done.vouchers.at(-1)?.cumulativeAmount ?? 0n;
  running = await billedJob({
    ...common,
    jobId: "job-cli-run-001",
    channelBase: base,
    usages: [{ gpu_ms: 5_000n }, { gpu_ms: 10_000n }, { gpu_ms: 15_000n }],
  });
  await mkdir(dataDir, { recursive: true });
  const store = openSubmitterStore(join(dataDir, "submitter.db"));
  storeBilledJob(store, done, { channelAmount: 10n * GRID, budget: GRID, status: "completed" });
  storeBilledJob(store, running, {
    channelAmount: 10n * GRID,
    channelBase: base,
    budget: GRID,
    status: "running",
  });
  store.close();
  const last = done.vouchers.at(-1);
  if (last === undefined) throw new Error("fixture");
  redeemTx = await net.redeem(last.cumulativeAmount, last.signature);
});

afterAll(async () => {
  await net?.stop();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
  if (net?.deploymentsDir !== undefined) await rm(net.deploymentsDir, { recursive: true, force: true });
});

function gridspot(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // Generous: each run loads the whole CLI, and these runs go side by side on a busy machine.
  return runGridspot(args, {
    cwd: home,
    timeoutMs: 90_000,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: home,
      GRIDSPOT_DATA_DIR: dataDir,
      GRIDSPOT_RPC_URL: net.chain.rpcUrl,
      GRIDSPOT_DEPLOYMENTS_DIR: net.deploymentsDir,
      GRIDSPOT_PRIVATE_KEY: net.payerKey,
      GRIDSPOT_LOG: "silent",
      ...env,
    },
  });
}

const oneJson = (stdout: string) => {
  const lines = stdout.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? "");
};

describe.concurrent("gridspot job invoice / verify / status", { timeout: 180_000 }, () => {
  it("job invoice --csv prints a header and one row per line, summing to the total", async () => {
    const run = await gridspot(["job", "invoice", done.agreement.jobId, "--csv"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const rows = run.stdout.trimEnd().split("\n");
    expect(rows[0]).toBe("meter,tier,up_to,quantity,billed_quantity,price,per,amount,from_note,to_note");
    expect(rows.slice(1).map((r) => r.split(",").slice(0, 2).join(","))).toEqual([
      "gpu_ms,1",
      "gpu_ms,2",
      "cpu_core_ms,",
    ]);
    const total = rows.slice(1).reduce((s, r) => s + BigInt(r.split(",")[7] ?? ""), 0n);
    expect(total).toBe(done.notes.at(-1)?.note.jobAmount);

    const text = await gridspot(["job", "invoice", done.agreement.jobId]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^Invoice for job job-cli-done-01 \(provider 0x[0-9a-fA-F]{40}, channel \d+, billed per second\)$/m,
    );
    // Quantities as durations, prices per unit-hour, amounts in GRID: no base units in text.
    expect(text.stdout).toMatch(/^ {2}gpu_ms +tier 2 +[\d.]+ s GPU × 1 GRID\/GPU-h {2}= [\d.]+ GRID$/m);
    expect(text.stdout).not.toMatch(/× \d+\//);
    expect(text.stdout).toContain(`redeemed in ${redeemTx}`);
  });

  it("job invoice --json traces every voucher to the transaction that redeemed it", async () => {
    const run = await gridspot(["job", "invoice", done.agreement.jobId, "--json"]);
    expect(run.code).toBe(0);
    const invoice = oneJson(run.stdout);
    expect(invoice.total).toBe(done.notes.at(-1)?.note.jobAmount.toString());
    // The last voucher's redemption paid the earlier one too.
    expect(invoice.trace.vouchers.map((v: { redeemTx: string }) => v.redeemTx)).toEqual([redeemTx, redeemTx]);
    expect(invoice.trace.firstEventId).toBe("job-cli-done-01:gpu_ms:0");
    expect(invoice.lines[0]).toMatchObject({
      meter: "gpu_ms",
      tier: 1,
      upTo: "20000",
      price: (2n * GRID).toString(),
    });
  });

  it("job invoice refuses --json with --csv as a usage error", async () => {
    const run = await gridspot(["job", "invoice", done.agreement.jobId, "--json", "--csv"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Give --json or --csv, not both/);
  });

  it("job verify prints each check and exits 0 when all pass", async () => {
    const run = await gridspot(["job", "verify", done.agreement.jobId]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Verifying job job-cli-done-01\n/);
    expect(run.stdout.match(/^ {2}ok {3}/gm)).toHaveLength(7);
    expect(run.stdout).toContain(`in ${redeemTx}`);
    expect(run.stdout).toMatch(/All 7 checks passed\.\n$/);
    const json = oneJson((await gridspot(["job", "verify", done.agreement.jobId, "--json"])).stdout);
    expect(json.ok).toBe(true);
  });

  it("job verify exits 1 and says which check failed when the last voucher is not redeemed", async () => {
    const run = await gridspot(["job", "verify", running.agreement.jobId]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^ {2}FAIL on-chain redemption: the channel's redemptions reach \d+, not the last voucher's \d+$/m,
    );
    expect(run.stdout).toMatch(/1 of 7 checks failed\.\n$/);
  });

  it("job status shows the time until the budget runs out for a running job, null otherwise", async () => {
    const live = oneJson((await gridspot(["job", "status", running.agreement.jobId, "--json"])).stdout);
    // 5,000 gpu_ms per 5 s note at 2 GRID per GPU-hour: (1 GRID − spent) ÷ burn rate.
    const notes = running.notes.map((n) => n.note);
    const spent = (notes.at(-1)?.jobAmount ?? 0n) - (notes[0]?.jobAmount ?? 0n);
    const expected = Number(((GRID - (notes.at(-1)?.jobAmount ?? 0n)) * 10_000n) / (spent * 1000n));
    expect(live.timeUntilEmptyS).toBe(expected);
    expect(live.timeUntilEmptyS).toBeGreaterThan(0);
    const text = await gridspot(["job", "status", running.agreement.jobId]);
    expect(text.stdout).toMatch(/^Time until empty about .+ at the recent burn rate$/m);
    const ended = oneJson((await gridspot(["job", "status", done.agreement.jobId, "--json"])).stdout);
    expect(ended.timeUntilEmptyS).toBeNull();
  });

  it("job list prints a table with a header, amounts in GRID", async () => {
    const run = await gridspot(["job", "list"]);
    expect(run.code).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^JOB +STATUS +COST +SUBMITTED +PROVIDER +NOTE$/);
    expect(rows.join("\n")).toMatch(
      /^job-cli-done-01 +completed +[\d.]+ GRID +\d{4}-\d\d-\d\dT[\d:]+Z +0x[0-9a-fA-F]{40}$/m,
    );
    expect(rows.join("\n")).toMatch(/^job-cli-run-001 +running +[\d.]+ GRID /m);
  });

  it("refuses to run with a broken policy file, naming it (exit 2)", async () => {
    const elsewhere = await mkdtemp(join(home, "bad-policy-"));
    await writeFile(join(elsewhere, "policy.json"), JSON.stringify({ dailyCap: 5 }));
    const run = await gridspot(["job", "list"], { GRIDSPOT_DATA_DIR: elsewhere });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`The spend policy ${join(elsewhere, "policy.json")} is invalid: dailyCap`);
  });
});

// Usage billing through a real provider node (its own process, fake nvidia-smi on its PATH), a real
// chain and the submitter's own client code: GPU utilization and memory from nvidia-smi, egress
// bytes, the job's own requests and tokens, the provider's invoice against the submitter's
// `gridspot job invoice`, late usage over POST /v1/usage refused and the channel reconciled.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobInvoice } from "../../../marketplace/cli/commands/job.ts";
import { resolveGlobalOptions } from "../../../marketplace/cli/globalOptions.ts";
import { submitJob } from "../../../marketplace/client/submitJob.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import { createCleanups } from "../../integration/support/cleanups.ts";
import { GRID, type Market, startMarket } from "../../integration/support/market.ts";
import {
  createTestSubmitter,
  GPU_CLASS,
  startTestProvider,
  type TestProvider,
  type TestSubmitter,
} from "../../integration/support/nodes.ts";
import { getJson, waitFor } from "../../integration/support/waitFor.ts";

const ADMIN = "end-to-end-admin-token-0123456789";
const LOG_LINE = `${"x".repeat(999)}\n`;
const OUTPUT = "y".repeat(2_048);

/**
 * The job: makes the fake nvidia-smi report its own pid on its assigned GPU (1000 MiB, 60 %),
 * reports 3 requests and 1500 tokens (a repeated id and a bad line among them), prints 1000 bytes,
 * burns CPU for 2 s and writes a 2048-byte output.
 */
const SCRIPT = [
  'const fs=require("node:fs");',
  "const gpu=Number(process.env.CUDA_VISIBLE_DEVICES);",
  "fs.writeFileSync(process.env.STATE,JSON.stringify({apps:[{pid:process.pid,gpu,usedMiB:1000}],utilization:{[gpu]:60}}));",
  "const u=process.env.GRIDSPOT_USAGE_FILE;",
  'fs.appendFileSync(u,JSON.stringify({meter:"requests",quantity:2,id:"r1"})+"\\n");',
  'fs.appendFileSync(u,JSON.stringify({meter:"requests",quantity:1,id:"r2"})+"\\n"+JSON.stringify({meter:"requests",quantity:2,id:"r1"})+"\\n");',
  'fs.appendFileSync(u,"not json\\n"+JSON.stringify({meter:"tokens",quantity:"1500",id:"t1"})+"\\n");',
  `process.stdout.write("x".repeat(999)+"\\n");`,
  "const t0=Date.now();let n=0;while(Date.now()-t0<2000)n++;",
  'fs.writeFileSync("result.txt","y".repeat(2048));',
].join("");

let market: Market;
let provider: TestProvider;
let payer: TestSubmitter;
/** The fake nvidia-smi's state file, which the job itself writes. */
let stateFile: string;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  // Outside the data dirs and open to the job's unprivileged user (jobs never run as the node's uid).
  const stateDir = mkdtempSync(join(tmpdir(), "gridspot-gpu-state-"));
  chmodSync(stateDir, 0o777);
  cleanups.add(() => rmSync(stateDir, { recursive: true, force: true }));
  stateFile = join(stateDir, "state.json");
  provider = await startTestProvider(market, {
    env: { GRIDSPOT_ADMIN_TOKEN: ADMIN, FAKE_NVIDIA_SMI_STATE: stateFile },
    // Unsandboxed, so the pid the job reports is the host pid nvidia-smi would show.
    config: { runtime: { meterIntervalMs: 100, sandbox: "none", expectGpus: 2 } },
  });
  cleanups.add(() => provider.stop());
  payer = await createTestSubmitter(market, [provider]);
  cleanups.add(() => payer.submitter.close());
}, 120_000);
afterAll(async () => {
  await cleanups.run();
  await market?.stop();
});

type ApiJob = { usage: Record<string, string>; jobAmount: string };

describe("usage billing end to end", () => {
  it("meters GPU, egress and the job's own usage; invoices like the submitter; refuses late usage", async () => {
    const status = await getJson<{
      gpu: { state: string; cudaVersion: string; gpuCount: number; classes: object };
    }>(provider.api("/v1/status"));
    expect(status.gpu).toMatchObject({
      state: "ok",
      cudaVersion: "12.4",
      gpuCount: 2,
      classes: { [GPU_CLASS]: 2 },
    });

    const result = await submitJob(payer.submitter, {
      requirements: { gpus: 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 120 },
      maxRates: [{ meter: "gpu_ms", price: 5n * GRID, per: 3_600_000n }],
      budget: GRID,
      spec: {
        command: process.execPath,
        args: ["-e", SCRIPT],
        env: { STATE: stateFile },
        outputs: ["result.txt"],
      },
      inputs: [],
      outputDir: join(market.work, "out"),
      bidWindowMs: 1_000,
      explain: true,
      redeemWaitMs: 20_000,
      events: {},
    });
    expect(result.status).toBe("completed");

    // The submitter's last note carries the new meters too.
    // The agreement names no self-reported meter (this provider prices neither requests nor
    // tokens): what the job wrote in its usage file is not taken (issue 10: a job cannot invent usage).
    expect(result.usage.requests).toBeUndefined();
    expect(result.usage.tokens).toBeUndefined();
    expect(result.usage.egress_bytes).toBe(BigInt(LOG_LINE.length + OUTPUT.length));
    const gpuMs = result.usage.gpu_ms ?? 0n;
    const util = result.usage.gpu_util_ms ?? 0n;
    const mem = result.usage.gpu_mem_mib_ms ?? 0n;
    // 60 % of the one GPU from the moment the job told the fake, never more than 60 % of its GPU time.
    expect(util).toBeGreaterThan((gpuMs * 60n) / 100n / 3n);
    expect(util).toBeLessThanOrEqual((gpuMs * 60n) / 100n + 1n);
    expect(mem).toBeGreaterThan(0n);
    expect(mem).toBeLessThanOrEqual(1_000n * gpuMs);
    expect(provider.log()).toContain("skipped bad lines in the job's usage file");

    // The provider's invoice is the submitter's `gridspot job invoice --json`.
    const providerInvoice = await waitFor("the redeem tx in the provider's invoice", async () => {
      const invoice = await getJson<{ trace: { vouchers: { redeemTx: string | null }[] } }>(
        provider.api(`/v1/jobs/${result.jobId}/invoice`),
      );
      return invoice.trace.vouchers.at(-1)?.redeemTx === result.redeemTx ? invoice : undefined;
    });
    const saved = process.env.GRIDSPOT_PRIVATE_KEY;
    process.env.GRIDSPOT_PRIVATE_KEY = payer.key;
    const submitterInvoice = await jobInvoice(
      resolveGlobalOptions(
        { json: true, dataDir: payer.dataDir, rpcUrl: market.rpcUrl, deployments: market.deploymentsDir },
        "submitter",
      ),
      { jobId: result.jobId, csv: false },
    ).finally(() => {
      if (saved === undefined) delete process.env.GRIDSPOT_PRIVATE_KEY;
      else process.env.GRIDSPOT_PRIVATE_KEY = saved;
    });
    expect(providerInvoice).toEqual(toJsonValue(submitterInvoice.json));

    // Usage reported after the job ended (or for a meter the node measures itself) is refused: the
    // payer agreed to no such bill. The ledger is unchanged and reconciliation finds nothing amiss.
    const late = {
      events: [
        {
          id: `${result.jobId}:gpu_ms:late-1`,
          jobId: result.jobId,
          source: "ops",
          meter: "gpu_ms",
          quantity: "3600000",
          time: Date.now(),
        },
      ],
    };
    const post = await fetch(provider.api("/v1/usage"), {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify(late),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { message: string } }));
    expect(post.status).toBe(400);
    expect(post.body.message).toContain("usage is taken only while it runs");
    const job = await getJson<ApiJob>(provider.api(`/v1/jobs/${result.jobId}`));
    expect(BigInt(job.usage.gpu_ms ?? "0")).toBe(gpuMs);

    const report = await getJson<{
      channels: {
        channelId: string;
        differences: { kind: string; amount: string; jobId: string | null }[];
      }[];
    }>(provider.api("/v1/reconcile"));
    const channel = report.channels.find((c) => c.channelId === result.channelId.toString());
    expect(channel?.differences).toEqual([]);
  });
});

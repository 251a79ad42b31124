// Spend control on real parts: anvil, a provider node as its own process, the submitter's own
// client code here, a real webhook receiver on 127.0.0.1. The policy file decides what is signed.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Fastify from "fastify";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSubmitter } from "../../../marketplace/client/createSubmitter.ts";
import { signedSince, startOfUtcDay } from "../../../marketplace/client/signedSince.ts";
import { submitJob } from "../../../marketplace/client/submitJob.ts";
import { listAlerts, listJobVouchers, listNoteRecords } from "../../../marketplace/client/submitterStore.ts";
import { createCleanups } from "../../integration/support/cleanups.ts";
import { GRID, type Market, startMarket } from "../../integration/support/market.ts";
import {
  burnScript,
  GPU_CLASS,
  PRICES,
  startTestProvider,
  type TestProvider,
} from "../../integration/support/nodes.ts";

let market: Market;
let provider: TestProvider;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  provider = await startTestProvider(market);
}, 90_000);
afterEach(() => cleanups.run());
afterAll(async () => {
  await provider?.stop();
  await market?.stop();
});

/** A submitter whose data dir holds `policy` before it starts, as a person would set it up. */
async function submitterWith(policy: unknown, name: string) {
  const { key } = await market.fundAccount(10n * GRID);
  const dataDir = join(market.work, name);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, "policy.json"), JSON.stringify(policy));
  const submitter = await createSubmitter(
    {
      dataDir,
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      bootstrap: [provider.info.multiaddrs[0] ?? ""],
      localNetwork: true,
    },
    privateKeyToAccount(key),
  );
  cleanups.add(() => submitter.close());
  return submitter;
}

function burn(
  submitter: Awaited<ReturnType<typeof submitterWith>>,
  ms: number,
  budget: bigint,
  alerts: string[] = [],
) {
  return submitJob(submitter, {
    requirements: { gpus: 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 120 },
    maxRates: [{ meter: "gpu_ms", price: 5n * GRID, per: 3_600_000n }],
    budget,
    spec: { command: process.execPath, args: ["-e", burnScript(ms)], env: {}, outputs: [] },
    inputs: [],
    outputDir: join(market.work, "out"),
    bidWindowMs: 1_000,
    explain: true,
    redeemWaitMs: 1_000,
    events: { onAlert: (m) => alerts.push(m) },
  });
}

// One GPU-second at the test provider's price.
const GPU_SECOND = PRICES.gpuHour / 3_600n;

describe("spend control (policy.json)", () => {
  it("alerts at 50/80/100 % of the budget once each, by line and webhook, and pays exactly the budget", async () => {
    const app = Fastify();
    const received: { threshold: number; signed: boolean; amount: string }[] = [];
    let calls = 0;
    app.post("/hook", async (request, reply) => {
      calls += 1;
      // The receiver is flaky: every other request fails, so each alert needs a retry.
      if (calls % 2 === 1) return reply.code(503).send();
      received.push(request.body as (typeof received)[number]);
      return reply.code(200).send({ ok: true });
    });
    const url = `${await app.listen({ host: "127.0.0.1", port: 0 })}/hook`;
    cleanups.add(() => app.close());

    const submitter = await submitterWith({ alerts: { thresholds: [50, 80, 100], webhook: url } }, "alerts");
    const budget = 3n * GPU_SECOND; // about 3 s of the GPU, for a 10 s burn
    const lines: string[] = [];
    const result = await burn(submitter, 10_000, budget, lines);

    // At the budget the payer signs exactly the budget for the note that crosses it, and stops the job.
    expect(result.amount).toBe(budget);
    expect(result.vouchers.every((v) => v.cumulativeAmount <= budget)).toBe(true);
    expect(result.vouchers.at(-1)?.cumulativeAmount).toBe(budget);
    expect(result.status).toBe("cancelled");
    expect(result.reason).toMatch(/budget reached/);
    const notes = listNoteRecords(submitter.store, result.jobId);
    expect(notes.some((n) => /exceeds the budget/.test(n.verdict))).toBe(true);
    expect(
      lines.filter((l) => l.startsWith("budget alert:")).map((l) => /reached (\d+)%/.exec(l)?.[1]),
    ).toEqual(["50", "80", "100"]);
    expect(listAlerts(submitter.store, result.jobId).map((a) => a.threshold)).toEqual([50, 80, 100]);
    // Every alert reached the flaky receiver (after its retries), the 100 % one from the budget voucher.
    expect(received.map((b) => b.threshold).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(received.find((b) => b.threshold === 100)?.signed).toBe(true);
    expect(calls).toBe(6);
  });

  it("refuses the note that would cross the daily cap, with the reason, and signs nothing above it", async () => {
    const dailyCap = 2n * GPU_SECOND;
    const submitter = await submitterWith({ dailyCap: dailyCap.toString() }, "daily-cap");
    const result = await burn(submitter, 8_000, GRID);

    // What matters first: nothing was signed above the cap, and the cap is why a note was refused.
    const signedToday = signedSince(submitter.store, startOfUtcDay(Date.now()));
    expect(signedToday).toBeLessThanOrEqual(dailyCap);
    expect(signedToday).toBe(listJobVouchers(submitter.store, result.jobId).at(-1)?.cumulativeAmount);
    const verdicts = listNoteRecords(submitter.store, result.jobId).map((n) => `${n.seq}: ${n.verdict}`);
    const refused = verdicts.filter((v) => !v.endsWith(": accepted"));
    expect(refused[0], verdicts.join("\n")).toMatch(/^\d+: daily cap: /);
    // The provider suspended the job with the submitter's reason.
    expect(result.status, verdicts.join("\n")).toBe("suspended");
    expect(result.reason).toMatch(
      /daily cap: \d+ signed today \(UTC\) \+ \d+ would be \d+, above the cap of \d+/,
    );
  });

  it("refuses to submit at all once today's signing has reached the daily cap", async () => {
    const submitter = await submitterWith({ dailyCap: "1000" }, "cap-reached");
    const { store } = submitter;
    store.db
      .prepare(
        "INSERT INTO channels (channel_id, escrow, provider, amount, signed, expiry, status) VALUES ('99', ?, ?, '1000', '1000', 0, 'closed')",
      )
      .run(market.deployment.contracts.computeEscrow, provider.address);
    store.db
      .prepare(
        "INSERT INTO jobs (job_id, provider, channel_id, channel_base, agreement, spec, budget, status, reason, amount, usage, created_at) VALUES ('job-earlier-01', ?, '99', '0', '{}', '{}', '1000', 'completed', '', '1000', '{}', 0)",
      )
      .run(provider.address);
    store.db
      .prepare(
        "INSERT INTO vouchers (channel_id, cumulative, signature, job_id, note_seq, signed_at) VALUES ('99', '1000', '0x', 'job-earlier-01', 0, ?)",
      )
      .run(Date.now());
    await expect(burn(submitter, 1_000, GRID)).rejects.toThrow(
      /The daily cap is reached: 1000 base units signed today \(UTC\), cap 1000/,
    );
  });
});

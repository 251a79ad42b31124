import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { buildApp } from "../../../node/api/buildApp.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { finishJob, insertJob } from "../../../node/store/jobRecords.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { insertNote, insertVoucher, recordRedemption } from "../../../node/store/receiptRecords.ts";
import { usageEvent } from "../store/usageEvent.ts";

const TOKEN = "s3cret-admin-token-0123456789";
const SUBMITTER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BIG = 2n ** 70n + 1n;
const HASH = `0x${"ab".repeat(32)}` as const;
const TX = `0x${"cd".repeat(32)}` as const;

let dir: string;
let store: Store;
let app: FastifyInstance;
let redeemCalls: number;
let failStatus: boolean;

function startJob(jobId: string, channelId: bigint, startedAt: number) {
  const started = insertJob(store, {
    jobId,
    orderId: "order-0001",
    submitter: SUBMITTER,
    channelId,
    channelBase: 0n,
    agreement: '{"secret":"not for the API"}',
    startedAt,
  });
  expect(started.ok).toBe(true);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-api-"));
  store = openProviderStore(join(dir, "node.sqlite"));
  redeemCalls = 0;
  failStatus = false;

  // A finished job with usage, two notes, two vouchers, the first redeemed; and one still running.
  startJob("job-done-01", 7n, 1_000);
  const events = [
    usageEvent("job-done-01", "gpu_ms", 0, 3_000n),
    usageEvent("job-done-01", "gpu_ms", 1, 2_000n),
    usageEvent("job-done-01", "cpu_core_ms", 0, 500n),
  ];
  insertUsageEvents(store, events);
  const note = (seq: number, jobAmount: bigint, ids: string[]) =>
    insertNote(
      store,
      {
        jobId: "job-done-01",
        seq,
        envelope: '{"raw":"envelope"}',
        jobAmount,
        channelCumulative: jobAmount,
        eventsHash: HASH,
        createdAt: 2_000 + seq,
      },
      ids,
    );
  note(0, 1000n, [events[0]?.id ?? ""]);
  note(1, BIG, [events[1]?.id ?? "", events[2]?.id ?? ""]);
  insertVoucher(store, {
    channelId: 7n,
    cumulativeAmount: 1000n,
    signature: "0x01",
    jobId: "job-done-01",
    noteSeq: 0,
    receivedAt: 3_000,
  });
  insertVoucher(store, {
    channelId: 7n,
    cumulativeAmount: BIG,
    signature: "0x02",
    jobId: "job-done-01",
    noteSeq: 1,
    receivedAt: 3_001,
  });
  recordRedemption(store, {
    txHash: TX,
    channelId: 7n,
    cumulativeAmount: 1000n,
    status: "confirmed",
    blockNumber: 12n,
    createdAt: 4_000,
  });
  finishJob(store, "job-done-01", {
    status: "completed",
    exitCode: 0,
    reason: "exited 0",
    reasonCode: "exit",
    endedAt: 5_000,
  });

  startJob("job-running", 8n, 6_000);
  insertUsageEvents(store, [usageEvent("job-running", "gpu_ms", 0, 10n)]);

  app = buildApp({
    store,
    status: () => {
      if (failStatus) throw new Error("database path /secret/place is gone");
      return { peerId: "12D3KooW", running: 1, earned: BIG };
    },
    redeem: async () => {
      redeemCalls++;
      return {
        txHash: TX,
        vouchers: [
          { channelId: 7n, cumulativeAmount: BIG, signature: "0x02", jobId: "job-done-01", noteSeq: 1 },
        ],
      };
    },
    adminToken: TOKEN,
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("operator API", () => {
  it("GET /v1/status gives the node's status with bigints as strings", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/status" });
    expect(response.statusCode).toBe(200);
    const { settlement, ...status } = response.json();
    expect(status).toEqual({ peerId: "12D3KooW", running: 1, earned: BIG.toString() });
    // The redemption queue's state, from the ledger: one channel's voucher is not redeemed yet.
    expect(settlement).toMatchObject({ vouchersPending: 1, redemptionsUnconfirmed: 0 });
  });

  it("GET /v1/jobs lists jobs newest first, without their agreements", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/jobs" });
    expect(response.statusCode).toBe(200);
    const { jobs } = response.json() as { jobs: Record<string, unknown>[] };
    expect(jobs.map((j) => j.jobId)).toEqual(["job-running", "job-done-01"]);
    expect(jobs[1]).toEqual({
      jobId: "job-done-01",
      orderId: "order-0001",
      submitter: SUBMITTER,
      channelId: "7",
      channelBase: "0",
      status: "completed",
      exitCode: 0,
      reason: "exited 0",
      startedAt: 1_000,
      endedAt: 5_000,
      jobAmount: BIG.toString(),
      runtime: null,
      imageDigest: null,
      reasonCode: "exit",
    });
    expect(response.body).not.toContain("not for the API");
  });

  it("GET /v1/jobs/:id gives usage totals, notes and vouchers with the transaction that redeemed them", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/jobs/job-done-01" });
    expect(response.statusCode).toBe(200);
    const job = response.json() as Record<string, unknown>;
    expect(job).toMatchObject({ jobId: "job-done-01", status: "completed", jobAmount: BIG.toString() });
    expect(job.usage).toEqual({ cpu_core_ms: "500", gpu_ms: "5000" });
    expect(job.notes).toEqual([
      { jobId: "job-done-01", seq: 0, jobAmount: "1000", channelCumulative: "1000", eventsHash: HASH },
      {
        jobId: "job-done-01",
        seq: 1,
        jobAmount: BIG.toString(),
        channelCumulative: BIG.toString(),
        eventsHash: HASH,
      },
    ]);
    expect(job.vouchers).toEqual([
      {
        channelId: "7",
        cumulativeAmount: "1000",
        signature: "0x01",
        jobId: "job-done-01",
        noteSeq: 0,
        redeemTx: TX,
      },
      {
        channelId: "7",
        cumulativeAmount: BIG.toString(),
        signature: "0x02",
        jobId: "job-done-01",
        noteSeq: 1,
        redeemTx: null,
      },
    ]);
    expect(response.body).not.toContain("not for the API");
    expect(response.body).not.toContain("envelope");
  });

  it("GET /v1/jobs/:id answers 404 for an unknown job and 400 for an id that cannot be one", async () => {
    const missing = await app.inject({ method: "GET", url: "/v1/jobs/job-nobody-01" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: "not-found", message: "no such job" });
    for (const bad of ["short", "bad!id-1234", `${"x".repeat(65)}`, "job%20done%2001"]) {
      const response = await app.inject({ method: "GET", url: `/v1/jobs/${bad}` });
      expect(response.statusCode, bad).toBe(400);
      expect(response.json()).toMatchObject({ error: "bad-request" });
    }
  });

  it("GET /metrics speaks the Prometheus text format", async () => {
    const response = await app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = response.body.trimEnd().split("\n");
    const declared = new Map<string, string>();
    const samples = new Map<string, string>();
    for (const line of lines) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      if (meta !== null) {
        if (meta[1] === "TYPE") declared.set(meta[2] ?? "", meta[3] ?? "");
        continue;
      }
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"\})? (-?[0-9]+)$/.exec(
        line,
      );
      expect(sample, line).not.toBeNull();
      const name = sample?.[1] ?? "";
      expect(declared.has(name), `${name} has a TYPE before its samples`).toBe(true);
      samples.set(`${name}${sample?.[2] ?? ""}`, sample?.[3] ?? "");
    }
    expect(declared.get("gridspot_jobs_running")).toBe("gauge");
    expect(declared.get("gridspot_jobs_total")).toBe("counter");
    expect(declared.get("gridspot_gpu_ms_billed_total")).toBe("counter");
    expect(declared.get("gridspot_tokens_earned_total")).toBe("counter");
    expect(Object.fromEntries(samples)).toMatchObject({
      gridspot_jobs_running: "1",
      'gridspot_jobs_total{status="completed"}': "1",
      gridspot_gpu_ms_billed_total: "5010",
      gridspot_tokens_earned_total: BIG.toString(),
      gridspot_vouchers_redeemed: "1",
      gridspot_vouchers_pending: "1",
    });
  });

  // A counter never goes down. Counting running jobs in gridspot_jobs_total makes the
  // status="running" series fall when a job ends, which Prometheus reads as a counter reset.
  it("GET /metrics counts only ended jobs in gridspot_jobs_total", async () => {
    const response = await app.inject({ method: "GET", url: "/metrics" });
    expect(response.body).not.toContain('gridspot_jobs_total{status="running"}');
  });

  it("POST /v1/redeem needs the admin token", async () => {
    for (const authorization of [
      undefined,
      "",
      "Bearer",
      "Bearer wrong",
      `Bearer ${TOKEN}x`,
      TOKEN.slice(1),
      `Basic ${TOKEN}`,
    ]) {
      const response = await app.inject({
        method: "POST",
        url: "/v1/redeem",
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(response.statusCode, String(authorization)).toBe(401);
      expect(response.json()).toEqual({ error: "unauthorized", message: "admin token required" });
    }
    expect(redeemCalls).toBe(0);
    const ok = await app.inject({
      method: "POST",
      url: "/v1/redeem",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      result: {
        txHash: TX,
        vouchers: [
          {
            channelId: "7",
            cumulativeAmount: BIG.toString(),
            signature: "0x02",
            jobId: "job-done-01",
            noteSeq: 1,
          },
        ],
      },
    });
    expect(redeemCalls).toBe(1);
  });

  it("POST /v1/redeem answers 401, not 500, to a token of the right length in other bytes", async () => {
    // Same number of characters as the token, more bytes once UTF-8 encoded.
    const lookalike = `é${TOKEN.slice(1)}`;
    const response = await app.inject({
      method: "POST",
      url: "/v1/redeem",
      headers: { authorization: `Bearer ${lookalike}` },
    });
    expect(response.statusCode).toBe(401);
    expect(redeemCalls).toBe(0);
  });

  // GRIDSPOT_ADMIN_TOKEN="" (set but empty) must not open the admin endpoints to a request with no
  // Authorization header at all.
  it.each([
    ["not configured", undefined],
    ["configured empty", ""],
  ])("POST /v1/redeem is off when the admin token is %s", async (_name, adminToken) => {
    const open = buildApp({
      store,
      status: () => ({}),
      redeem: async () => {
        redeemCalls++;
        return undefined;
      },
      adminToken,
    });
    try {
      for (const headers of [
        {},
        { authorization: "" },
        { authorization: "Bearer " },
        { authorization: "Bearer undefined" },
      ]) {
        const response = await open.inject({ method: "POST", url: "/v1/redeem", headers });
        expect(response.statusCode, JSON.stringify(headers)).toBe(401);
      }
      expect(redeemCalls).toBe(0);
    } finally {
      await open.close();
    }
  });

  it("answers 500, never a half-formed answer, when the node's status does not match its schema", async () => {
    for (const status of [
      { provider: "0xnot-an-address" },
      { rates: [{ meter: "gpu_ms", price: "-1", per: "1" }] },
      { runningJobs: "two" },
    ]) {
      const broken = buildApp({
        store,
        status: () => status as never,
        redeem: async () => undefined,
        adminToken: TOKEN,
      });
      try {
        const response = await broken.inject({ method: "GET", url: "/v1/status" });
        expect(response.statusCode, JSON.stringify(status)).toBe(500);
        expect(response.json()).toEqual({ error: "internal", message: "internal error" });
      } finally {
        await broken.close();
      }
    }
  });

  it("answers 500 when what the redeemer sent does not match its schema", async () => {
    const broken = buildApp({
      store,
      status: () => ({}),
      redeem: async () => ({ txHash: "0x12", vouchers: [] }) as never,
      adminToken: TOKEN,
    });
    try {
      const response = await broken.inject({
        method: "POST",
        url: "/v1/redeem",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toContain("0x12");
    } finally {
      await broken.close();
    }
  });

  it("hides the details of a 500", async () => {
    failStatus = true;
    const response = await app.inject({ method: "GET", url: "/v1/status" });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: "internal", message: "internal error" });
    expect(response.body).not.toContain("/secret/place");
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { buildApp } from "../../../node/api/buildApp.ts";
import { finishJob, insertJob } from "../../../node/store/jobRecords.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { insertNote } from "../../../node/store/receiptRecords.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";
import { agreement } from "../../marketplace/messages/fixtures.ts";
import { signedAgreement } from "../store/signedAgreement.ts";

const TOKEN = "usage-admin-token-0123456789";
let dir: string;
let path: string;
let store: Store;
let app: FastifyInstance;

const event = (seq: number | string, quantity = "10", extra: Record<string, unknown> = {}) => ({
  id: `job-usage-1:tokens:${seq}`,
  jobId: "job-usage-1",
  source: "gateway",
  meter: "tokens",
  quantity,
  time: 1_700_000_000_000,
  ...extra,
});
const rows = () =>
  Number((store.db.prepare("SELECT COUNT(*) AS n FROM usage_events").get() as { n: number }).n);

async function start() {
  app = buildApp({ store, adminToken: TOKEN, status: () => ({}), redeem: async () => null });
  await app.ready();
}
const post = (body: unknown, token: string | null = TOKEN) =>
  app.inject({
    method: "POST",
    url: "/v1/usage",
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    payload: body as Record<string, unknown>,
  });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-api-usage-"));
  path = join(dir, "provider.db");
  store = openProviderStore(path);
  insertJob(store, {
    jobId: "job-usage-1",
    orderId: "order-usage-1",
    submitter: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    channelId: 3n,
    channelBase: 0n,
    // The job's agreement prices tokens, reported by its endpoint's gateway: they are self-reported.
    agreement: await signedAgreement({
      ...agreement,
      jobId: "job-usage-1",
      rates: [...agreement.rates, { meter: "tokens", price: 1_000n, per: 1n }],
      selfReported: ["tokens"],
    }),
    startedAt: 1,
  });
  await start();
});
afterEach(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("POST /v1/usage", () => {
  it("needs the admin token", async () => {
    expect((await post({ events: [event(0)] }, null)).statusCode).toBe(401);
    expect((await post({ events: [event(0)] }, "wrong-token-0123456789abcdef")).statusCode).toBe(401);
    expect(rows()).toBe(0);
  });

  it("reports each event inserted or duplicate, in order, and never rejects a batch for duplicates", async () => {
    const big = (2n ** 62n + 1n).toString();
    const first = await post({ events: [event(0, big), event(1), event(0, big)] });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      results: [
        { id: "job-usage-1:tokens:0", status: "inserted" },
        { id: "job-usage-1:tokens:1", status: "inserted" },
        { id: "job-usage-1:tokens:0", status: "duplicate" },
      ],
    });
    const again = await post({ events: [event(1, "999"), event(2)] });
    expect(again.json()).toEqual({
      results: [
        { id: "job-usage-1:tokens:1", status: "duplicate" },
        { id: "job-usage-1:tokens:2", status: "inserted" },
      ],
    });
    // Exact beyond 2^53, and the first version of a re-sent id is the one kept.
    expect(usageTotals(store, "job-usage-1")).toEqual({ tokens: 2n ** 62n + 21n });
  });

  it("remembers ids across restarts of the node", async () => {
    await post({ events: [event(0)] });
    await app.close();
    store.close();
    store = openProviderStore(path);
    await start();
    expect((await post({ events: [event(0)] })).json()).toEqual({
      results: [{ id: "job-usage-1:tokens:0", status: "duplicate" }],
    });
  });

  it.each([
    [
      { events: [event(0), event(1), event(2, "10", { meter: "disk_ms", id: "job-usage-1:disk_ms:2" })] },
      2,
      "unknown meter disk_ms",
    ],
    [
      { events: [event(0), event(1, "-1")] },
      1,
      "quantity must be a non-negative integer as a decimal string",
    ],
    [
      { events: [event(0, 10 as unknown as string)] },
      0,
      "quantity must be a non-negative integer as a decimal string",
    ],
    [{ events: [event(0, "9223372036854775808")] }, 0, "quantity above 2^63 - 1"],
    [
      { events: [event(0), { ...event(1), jobId: "job-nobody-1", id: "job-nobody-1:tokens:1" }] },
      1,
      "unknown job job-nobody-1",
    ],
    [
      { events: [event(0), { ...event(1), id: "job-other-1:tokens:1" }] },
      1,
      'id must be "job-usage-1:tokens:<seq>"',
    ],
    [{ events: [event(0), event(1, "5", { quantiy: "5" })] }, 1, "unknown field quantiy"],
    [{ events: [event(0, "1", { time: 1.5 })] }, 0, "time must be a non-negative integer"],
    [{ events: [null] }, 0, "not an object"],
    [
      { events: [event(0), event(1, "12345678901234567890")] },
      1,
      "quantity must be a non-negative integer as a decimal string of at most 19 digits",
    ],
    [{ events: [event(0, "1.5")] }, 0, "quantity must be a non-negative integer as a decimal string"],
    [{ events: [event(0), { ...event(1), time: undefined }] }, 1, "time must be a non-negative integer"],
    [{ events: [event(0, "1", { gpuClass: "" })] }, 0, "gpuClass must be a non-empty string when present"],
    [{ events: [event(0, "1", { source: "" })] }, 0, "empty source"],
  ])(
    "refuses a batch with an invalid event, naming its index, and writes nothing of it (%#)",
    async (body, index, problem) => {
      const response = await post(body);
      expect(response.statusCode).toBe(400);
      const answer = response.json() as { error: string; message: string; index: number };
      expect(answer.error).toBe("bad-request");
      expect(answer.index).toBe(index);
      expect(answer.message).toContain(`events[${index}]: ${problem}`);
      expect(rows()).toBe(0);
    },
  );

  it("refuses usage for a meter the agreement does not name as self-reported (cpu_core_ms for a sleeping job)", async () => {
    const cheat = await post({
      events: [event(0), event(1, "9000", { meter: "cpu_core_ms", id: "job-usage-1:cpu_core_ms:1" })],
    });
    expect(cheat.statusCode).toBe(400);
    expect(cheat.json().message).toBe(
      "events[1]: cpu_core_ms is not self-reported in job job-usage-1's agreement (it names tokens)",
    );
    expect(rows()).toBe(0);
  });

  it("refuses usage dated before the job's previous note, and any usage once the job has ended", async () => {
    insertNote(
      store,
      {
        jobId: "job-usage-1",
        seq: 0,
        envelope: "{}",
        jobAmount: 0n,
        channelCumulative: 0n,
        eventsHash: `0x${"00".repeat(32)}`,
        createdAt: 1_700_000_000_500,
      },
      [],
    );
    const late = await post({ events: [event(0)] });
    expect(late.statusCode).toBe(400);
    expect(late.json().message).toContain("events[0]: dated 1700000000000, before the job's previous note");
    expect((await post({ events: [event(1, "10", { time: 1_700_000_000_500 })] })).statusCode).toBe(200);
    finishJob(store, "job-usage-1", {
      status: "completed",
      exitCode: 0,
      reason: "exit code 0",
      reasonCode: "exit",
      endedAt: 1_700_000_001_000,
    });
    const after = await post({ events: [event(2, "10", { time: 1_700_000_002_000 })] });
    expect(after.statusCode).toBe(400);
    expect(after.json().message).toBe(
      "events[0]: job job-usage-1 is completed: usage is taken only while it runs",
    );
    expect(usageTotals(store, "job-usage-1")).toEqual({ tokens: 10n });
  });

  it("refuses a body that is not a batch in words, with no index", async () => {
    for (const [body, message] of [
      [{ events: [event(0)], extra: 1 }, "unknown field extra"],
      [{ events: "all of them" }, "events must be an array"],
      [[event(0)], "the body must be a JSON object {events: [...]}"],
    ] as const) {
      const response = await post(body);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: "bad-request", message, index: null });
    }
    expect(rows()).toBe(0);
  });

  it("takes 1,000 events in one request and refuses 1,001", async () => {
    const thousand = Array.from({ length: 1000 }, (_, i) => event(i, "1"));
    const ok = await post({ events: thousand });
    expect(ok.statusCode).toBe(200);
    expect((ok.json() as { results: unknown[] }).results).toHaveLength(1000);
    const tooMany = await post({ events: [...thousand, event(1000)] });
    expect(tooMany.statusCode).toBe(400);
    expect((tooMany.json() as { message: string }).message).toBe("at most 1000 events per request, got 1001");
    expect(rows()).toBe(1000);
    expect((await post({ nope: [] })).statusCode).toBe(400);
    expect((await post({ events: [] })).json()).toEqual({ results: [] });
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBudgetAlerts } from "../../../marketplace/client/budgetAlerts.ts";
import { postWebhook } from "../../../marketplace/client/postWebhook.ts";
import {
  insertSubmitterJob,
  listAlerts,
  openSubmitterStore,
} from "../../../marketplace/client/submitterStore.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { PROVIDER } from "../messages/fixtures.ts";

const GRID = 10n ** 18n;
const JOB = "job-alerts-001";
const FAST = { baseDelayMs: 20, maxDelayMs: 80, timeoutMs: 1_000 };

/** A real HTTP server on 127.0.0.1 that answers `failures` times with `status`, then 204. */
async function hookServer(failures: number, status = 503) {
  const app: FastifyInstance = Fastify();
  const received: { body: unknown; at: number }[] = [];
  let calls = 0;
  app.post("/hook", async (request, reply) => {
    calls += 1;
    received.push({ body: request.body, at: Date.now() });
    if (calls <= failures) return reply.code(status).send({ error: "not now" });
    return reply.code(204).send();
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url: `${address}/hook`, received, close: () => app.close(), calls: () => calls };
}

let dir: string;
let store: Store;
let servers: { close(): Promise<void> }[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-alerts-"));
  store = openSubmitterStore(join(dir, "submitter.db"));
  insertSubmitterJob(store, {
    jobId: JOB,
    provider: PROVIDER,
    channelId: 3n,
    channelBase: 0n,
    agreement: "{}",
    spec: "{}",
    budget: 10n * GRID,
    createdAt: 1,
  });
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const observed = { jobId: JOB, provider: PROVIDER, channelId: 3n, budget: 10n * GRID, signed: true };

describe("postWebhook", () => {
  it("retries a failing receiver with growing delays until it accepts", async () => {
    const server = await hookServer(3);
    servers.push(server);
    const outcome = await postWebhook({ url: server.url, body: { n: 1n }, attempts: 5, ...FAST });
    expect(outcome).toEqual({ ok: true, attempts: 4, status: 204 });
    expect(server.received.map((r) => r.body)).toEqual([{ n: "1" }, { n: "1" }, { n: "1" }, { n: "1" }]);
    const gaps = server.received.slice(1).map((r, i) => r.at - (server.received[i]?.at ?? 0));
    // 20, 40, 80 ms (the timers may fire a little late, never early).
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
  });

  it("gives up after the last attempt, and at once on a 4xx that retrying cannot fix", async () => {
    const down = await hookServer(100);
    const refusing = await hookServer(100, 400);
    servers.push(down, refusing);
    expect(await postWebhook({ url: down.url, body: {}, attempts: 3, ...FAST })).toEqual({
      ok: false,
      attempts: 3,
      error: "HTTP 503",
    });
    expect(down.calls()).toBe(3);
    expect(await postWebhook({ url: refusing.url, body: {}, attempts: 3, ...FAST })).toEqual({
      ok: false,
      attempts: 1,
      error: "HTTP 400",
    });
    expect(refusing.calls()).toBe(1);
  });

  it("retries when nothing listens, within its bound", async () => {
    const server = await hookServer(0);
    const { url } = server;
    await server.close();
    const started = Date.now();
    const outcome = await postWebhook({ url, body: {}, attempts: 3, ...FAST });
    expect(outcome).toMatchObject({ ok: false, attempts: 3 });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe("createBudgetAlerts", () => {
  it("alerts once per threshold per job, on stderr-style lines and by webhook, even across restarts", async () => {
    const server = await hookServer(2);
    servers.push(server);
    const lines: string[] = [];
    const init = { thresholds: [50, 80, 100], webhook: server.url, delivery: FAST };
    const alerts = createBudgetAlerts({ store, notify: (m) => lines.push(m) }, init);
    expect(alerts.observe({ ...observed, amount: 4n * GRID })).toEqual([]);
    const fired = alerts.observe({ ...observed, amount: 8n * GRID });
    expect(fired.map((a) => a.threshold)).toEqual([50, 80]);
    expect(alerts.observe({ ...observed, amount: 9n * GRID })).toEqual([]);
    await alerts.settled();
    expect(lines).toEqual([
      `budget alert: job ${JOB} reached 50% of its budget (8 GRID of 10 GRID)`,
      `budget alert: job ${JOB} reached 80% of its budget (8 GRID of 10 GRID)`,
    ]);
    // Both alerts arrived despite the receiver's first two failures.
    const delivered = server.received.map((r) => r.body as { threshold: number });
    expect(new Set(delivered.map((b) => b.threshold))).toEqual(new Set([50, 80]));
    expect(delivered.at(-1)).toMatchObject({
      type: "gridspot.budget.threshold",
      jobId: JOB,
      provider: PROVIDER,
      channelId: "3",
      amount: (8n * GRID).toString(),
      budget: (10n * GRID).toString(),
      signed: true,
    });

    // A new process (a re-attached CLI) does not alert 50 and 80 again.
    const again = createBudgetAlerts({ store, notify: (m) => lines.push(m) }, init);
    const last = again.observe({ ...observed, amount: 10n * GRID });
    expect(last.map((a) => a.threshold)).toEqual([100]);
    await again.settled();
    expect(listAlerts(store, JOB).map((a) => a.threshold)).toEqual([50, 80, 100]);
  });

  it("compares exactly: 49.99…% is not 50%", () => {
    const alerts = createBudgetAlerts({ store }, { thresholds: [50], webhook: null });
    expect(alerts.observe({ ...observed, amount: 5n * GRID - 1n })).toEqual([]);
    expect(alerts.observe({ ...observed, amount: 5n * GRID })).toHaveLength(1);
  });

  it("raises 100% for a note refused for the budget, marked as not signed", () => {
    const lines: string[] = [];
    const alerts = createBudgetAlerts(
      { store, notify: (m) => lines.push(m) },
      { thresholds: [80, 100], webhook: null },
    );
    const fired = alerts.observe({ ...observed, amount: 11n * GRID, signed: false });
    expect(fired.map((a) => [a.threshold, a.signed])).toEqual([
      [80, false],
      [100, false],
    ]);
    expect(lines[1]).toMatch(
      /reached 100% of its budget \(11 GRID of 10 GRID, in a note that was refused\)$/,
    );
  });

  it("says so when a webhook cannot be delivered", async () => {
    const server = await hookServer(100);
    servers.push(server);
    const lines: string[] = [];
    const alerts = createBudgetAlerts(
      { store, notify: (m) => lines.push(m) },
      { thresholds: [50], webhook: server.url, delivery: { ...FAST, attempts: 2 } },
    );
    alerts.observe({ ...observed, amount: 6n * GRID });
    await alerts.settled();
    expect(lines.at(-1)).toBe(`budget alert webhook failed after 2 attempt(s) (HTTP 503): job ${JOB} at 50%`);
  });

  it("stops retrying when stopped", async () => {
    const server = await hookServer(100);
    servers.push(server);
    const alerts = createBudgetAlerts(
      { store },
      {
        thresholds: [50],
        webhook: server.url,
        delivery: { attempts: 50, baseDelayMs: 200, maxDelayMs: 200, timeoutMs: 1_000 },
      },
    );
    alerts.observe({ ...observed, amount: 6n * GRID });
    await new Promise((r) => setTimeout(r, 50));
    alerts.stop();
    const started = Date.now();
    await alerts.settled();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.calls()).toBeLessThan(3);
  });
});

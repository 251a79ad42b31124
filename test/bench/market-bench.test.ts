// The market benchmark, run small as its own process (its hosts live in worker threads of it): the
// last stdout line is the JSON the README promises, and on a small quiet network every offer and
// every bid arrives.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "..", "..", "scripts", "bench", "market.ts");

describe("bench:market", () => {
  it("prints one JSON object with every figure as its last stdout line", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        SCRIPT,
        "--json",
        ...["--runs", "1", "--nodes", "6", "--workers", "2"],
        ...[
          "--offer-rate",
          "10",
          "--offer-seconds",
          "2",
          "--book",
          "500",
          "--orders",
          "2000",
          "--bid-orders",
          "3",
        ],
      ],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const figures = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(Object.keys(figures).slice(0, 8)).toEqual([
      "nodes",
      "offersDelivered",
      "offerDeliveryRatio",
      "offerP50Ms",
      "offerP99Ms",
      "matchOrdersPerSec",
      "matchP99Ms",
      "orderToBidsP50Ms",
    ]);
    expect(figures).toMatchObject({
      nodes: 6,
      offersPublished: 20,
      // 20 offers, each to the 5 other hosts.
      offerPairsExpected: 100,
      offersDelivered: 100,
      offerDeliveryRatio: 1,
      matchOrders: 2000,
      orderToBidsComplete: [3],
    });
    for (const key of ["offerP50Ms", "offerP99Ms", "matchOrdersPerSec", "matchP99Ms", "orderToBidsP50Ms"]) {
      const value = figures[key];
      expect(typeof value === "number" && Number.isFinite(value) && value > 0, key).toBe(true);
    }
    expect(figures.offerMessageBytes).toBeGreaterThanOrEqual(512);
  }, 120_000);
});

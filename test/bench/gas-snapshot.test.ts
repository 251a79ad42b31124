import { describe, expect, it } from "vitest";
import { GAS_METRICS, GAS_SNAPSHOT_PATH, measureGas, readGasSnapshot } from "../../scripts/bench/gas.ts";

/** A figure may drift this much above its snapshot (timestamps in signed data move calldata a little). */
const TOLERANCE = 0.02;

/** The foundation issue's targets: a snapshot above them must not be accepted either. */
const TARGETS = { redeemBatch100PerVoucher: 20_000, redeemUpdate: 60_000 } as const;

describe("gas snapshot", () => {
  it("holds the snapshot itself to the gas targets", async () => {
    const snapshot = await readGasSnapshot();
    for (const [metric, target] of Object.entries(TARGETS)) {
      expect(snapshot[metric as keyof typeof TARGETS], metric).toBeLessThanOrEqual(target);
    }
  });

  it("keeps every measured transaction within 2 % of test/contracts/gas-snapshot.json", async () => {
    const snapshot = await readGasSnapshot();
    const measured = await measureGas();
    const problems: string[] = [];
    for (const metric of GAS_METRICS) {
      const expected = snapshot[metric];
      const actual = measured[metric];
      expect(Number.isSafeInteger(actual) && actual > 0, `${metric} was not measured`).toBe(true);
      if (typeof expected !== "number") {
        problems.push(`${metric}: ${actual} gas, missing from the snapshot`);
      } else if (actual > expected * (1 + TOLERANCE)) {
        const percent = (((actual - expected) / expected) * 100).toFixed(1);
        problems.push(`${metric}: ${actual} gas, ${percent} % above the snapshot's ${expected}`);
      }
    }
    expect(
      problems,
      `Gas went up. If that is intended, run \`npm run bench:gas -- --update-snapshot\` and commit ${GAS_SNAPSHOT_PATH}.`,
    ).toEqual([]);
  });
});

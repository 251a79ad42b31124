import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../../marketplace/store/errors.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";
import { usageEvent } from "./usageEvent.ts";

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-store-"));
  store = openProviderStore(join(dir, "node.sqlite"));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = () =>
  Number((store.db.prepare("SELECT COUNT(*) AS n FROM usage_events").get() as { n: number }).n);

describe("insertUsageEvents", () => {
  it("stores a batch and reports duplicates within the batch and across batches", () => {
    const a = usageEvent("job1", "gpu_ms", 0, 1000n);
    const b = usageEvent("job1", "cpu_core_ms", 0, 700n);
    expect(insertUsageEvents(store, [a, b, a])).toEqual({ inserted: [a.id, b.id], duplicates: [a.id] });
    const c = usageEvent("job1", "gpu_ms", 1, 500n);
    expect(insertUsageEvents(store, [b, c])).toEqual({ inserted: [c.id], duplicates: [b.id] });
    expect(usageTotals(store, "job1")).toEqual({ cpu_core_ms: 700n, gpu_ms: 1500n });
  });

  it("keeps the first stored version of a repeated id", () => {
    insertUsageEvents(store, [usageEvent("job1", "gpu_ms", 0, 1000n)]);
    const retried = insertUsageEvents(store, [usageEvent("job1", "gpu_ms", 0, 9999n)]);
    expect(retried.duplicates).toEqual(["job1:gpu_ms:0"]);
    expect(usageTotals(store, "job1")).toEqual({ gpu_ms: 1000n });
  });

  it("writes nothing from a batch with an invalid event", () => {
    const good = usageEvent("job1", "gpu_ms", 0, 1n);
    const cases: [Partial<UsageEvent>, RegExp][] = [
      [{ meter: "disk_ms" as UsageEvent["meter"] }, /unknown meter disk_ms/],
      [{ quantity: -1n }, /negative quantity/],
      [{ quantity: 2n ** 63n }, /above 2\^63/],
      [{ quantity: 5 as unknown as bigint }, /must be a bigint/],
      [{ id: "" }, /empty id/],
      [{ jobId: "" }, /empty jobId/],
      [{ id: "job2:gpu_ms:1" }, /id must be "job1:gpu_ms:<seq>"/],
      [{ time: 1.5 }, /time must be/],
    ];
    for (const [patch, message] of cases) {
      const bad = { ...usageEvent("job1", "gpu_ms", 1, 1n), ...patch };
      expect(() => insertUsageEvents(store, [good, bad])).toThrow(StoreError);
      expect(() => insertUsageEvents(store, [good, bad])).toThrow(message);
    }
    expect(count()).toBe(0);
  });

  it("sums totals exactly beyond 2^53", () => {
    const big = 2n ** 53n + 1n;
    insertUsageEvents(store, [
      usageEvent("job1", "mem_mib_ms", 0, big),
      usageEvent("job1", "mem_mib_ms", 1, big),
      usageEvent("job1", "mem_mib_ms", 2, 3n),
      usageEvent("job2", "mem_mib_ms", 0, 5n),
    ]);
    expect(usageTotals(store, "job1")).toEqual({ mem_mib_ms: 2n ** 54n + 5n });
    expect(usageTotals(store, "job2")).toEqual({ mem_mib_ms: 5n });
    expect(usageTotals(store, "nobody")).toEqual({});
  });

  it("refuses a total beyond 2^63 - 1 instead of wrapping", () => {
    insertUsageEvents(store, [
      usageEvent("job1", "tokens", 0, 2n ** 62n),
      usageEvent("job1", "tokens", 1, 2n ** 62n),
    ]);
    expect(() => usageTotals(store, "job1")).toThrow(/do not fit in 64 bits/);
  });
});

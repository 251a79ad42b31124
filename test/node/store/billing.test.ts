import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { markBilled } from "../../../node/store/markBilled.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { unbilledEvents } from "../../../node/store/unbilledEvents.ts";
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

describe("unbilledEvents / markBilled", () => {
  it("moves events that arrive after a note into the next note", () => {
    const first = [usageEvent("job1", "gpu_ms", 0, 10n), usageEvent("job1", "cpu_core_ms", 0, 4n)];
    insertUsageEvents(store, first);
    insertUsageEvents(store, [usageEvent("other", "gpu_ms", 0, 1n)]);
    expect(unbilledEvents(store, "job1")).toEqual(first);

    markBilled(
      store,
      first.map((e) => e.id),
      1,
    );
    const late = { ...usageEvent("job1", "gpu_ms", 1, 20n), gpuClass: "nvidia-h100-80gb" };
    insertUsageEvents(store, [late]);
    expect(unbilledEvents(store, "job1")).toEqual([late]);

    markBilled(store, [late.id], 2);
    expect(unbilledEvents(store, "job1")).toEqual([]);
    expect(unbilledEvents(store, "other")).toHaveLength(1);
  });

  it("is idempotent for the same note and refuses to re-bill under another note", () => {
    const e = usageEvent("job1", "gpu_ms", 0, 10n);
    insertUsageEvents(store, [e, usageEvent("job1", "gpu_ms", 1, 5n)]);
    markBilled(store, [e.id], 1);
    markBilled(store, [e.id], 1);
    expect(() => markBilled(store, ["job1:gpu_ms:1", e.id], 2)).toThrow(/already billed by note 1/);
    // The failed call wrote nothing: event 1 is still unbilled.
    expect(unbilledEvents(store, "job1").map((x) => x.id)).toEqual(["job1:gpu_ms:1"]);
    expect(() => markBilled(store, ["job1:gpu_ms:9"], 2)).toThrow(/unknown usage event job1:gpu_ms:9/);
    expect(() => markBilled(store, [e.id], -1)).toThrow(/non-negative integer/);
  });
});

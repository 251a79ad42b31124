import { describe, expect, it } from "vitest";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import { Capacity, type CapacityTotals } from "../../../node/bid/capacity.ts";

const H100 = "nvidia-h100-80gb";
const A100 = "nvidia-a100-40gb";

/** Two H100s, two A100s, 16 cores, 64 GiB, jobs up to a day. */
const totals = (): CapacityTotals => ({
  gpus: [
    { index: 0, class: H100, vramMiB: 81_559 },
    { index: 1, class: H100, vramMiB: 81_559 },
    { index: 2, class: A100, vramMiB: 40_960 },
    { index: 3, class: A100, vramMiB: 40_960 },
  ],
  cpuCores: 16,
  memMiB: 65_536,
  maxDurationS: 86_400,
});

const req = (r: Partial<Requirements> = {}): Requirements => ({
  gpus: 1,
  cpuCores: 2,
  memMiB: 4096,
  maxDurationS: 3600,
  ...r,
});

/** A capacity on a clock the test moves. */
function clocked() {
  let now = 1_000_000;
  let changes = 0;
  const capacity = new Capacity(totals(), { now: () => now, onChange: () => changes++ });
  return {
    capacity,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    changes: () => changes,
  };
}

describe("Capacity.check", () => {
  it("fits a job the node can run now, naming the GPU class it would get", () => {
    const { capacity } = clocked();
    expect(capacity.check(req({ gpuClass: A100 }))).toEqual({ fits: true, gpuClass: A100 });
    expect(capacity.check(req({ gpus: 0 }))).toEqual({ fits: true, gpuClass: undefined });
    expect(capacity.check(req({ gpus: 2, vramMiB: 80_000 }))).toEqual({ fits: true, gpuClass: H100 });
  });

  it.each([
    ["duration", req({ maxDurationS: 86_401 })],
    ["cpu", req({ cpuCores: 17 })],
    ["memory", req({ memMiB: 65_537 })],
    ["gpu-class", req({ gpuClass: "nvidia-l4-24gb" })],
    ["vram", req({ vramMiB: 81_560 })],
    ["vram", req({ gpuClass: A100, vramMiB: 40_961 })],
    // Four GPUs here, but never four of one class: a job's GPUs are all of one class.
    ["gpu-class", req({ gpus: 3 })],
  ] as const)("declines with %s what the node can never run", (reason, r) => {
    const { capacity } = clocked();
    expect(capacity.check(r)).toMatchObject({ fits: false, reason });
  });

  it("declines with gpu-class a GPU job on a node without GPUs", () => {
    const capacity = new Capacity({ ...totals(), gpus: [] });
    expect(capacity.check(req())).toEqual({ fits: false, reason: "gpu-class", detail: "no GPUs here" });
    expect(capacity.check(req({ gpus: 0 })).fits).toBe(true);
  });

  it("declines with no-capacity what the node could run but not now", () => {
    const { capacity, now } = clocked();
    expect(capacity.reserve("job-a", req({ gpus: 2, gpuClass: H100 }), now() + 60_000)).toBeDefined();
    expect(capacity.check(req({ gpuClass: H100 }))).toMatchObject({ fits: false, reason: "no-capacity" });
    // An A100 is still free, and a job that does not name a class gets it.
    expect(capacity.check(req())).toEqual({ fits: true, gpuClass: A100 });
    expect(capacity.reserve("job-b", req({ gpus: 0, cpuCores: 14 }), now() + 60_000)).toBeDefined();
    expect(capacity.check(req({ gpus: 0, cpuCores: 1 }))).toMatchObject({
      fits: false,
      reason: "no-capacity",
    });
  });
});

describe("Capacity.reserve / release / holds", () => {
  it("hands out distinct GPUs and counts CPU and memory", () => {
    const { capacity, now } = clocked();
    const a = capacity.reserve("job-a", req({ gpuClass: H100 }), now() + 1000);
    const b = capacity.reserve("job-b", req({ gpuClass: H100, memMiB: 8192 }), now() + 1000);
    expect(a?.gpuIndices).toEqual([0]);
    expect(b?.gpuIndices).toEqual([1]);
    expect(capacity.reserve("job-c", req({ gpuClass: H100 }), now() + 1000)).toBeUndefined();
    const free = capacity.free();
    expect(free.gpusByClass.get(H100)).toBeUndefined();
    expect(free.gpusByClass.get(A100)?.map((g) => g.index)).toEqual([2, 3]);
    expect(free.cpuCores).toBe(12);
    expect(free.memMiB).toBe(65_536 - 4096 - 8192);
  });

  it("gives capacity back on release, once", () => {
    const { capacity, now, changes } = clocked();
    capacity.reserve("job-a", req({ gpus: 2, gpuClass: H100 }), now() + 1000);
    expect(changes()).toBe(1);
    capacity.release("job-a");
    capacity.release("job-a");
    expect(changes()).toBe(2);
    expect(capacity.get("job-a")).toBeUndefined();
    expect(capacity.free().gpusByClass.get(H100)).toHaveLength(2);
    expect(capacity.free().cpuCores).toBe(16);
  });

  it("releases a hold whose job has not started by holdUntil, and tells listeners", () => {
    const { capacity, now, advance, changes } = clocked();
    capacity.reserve("job-a", req({ gpus: 2, gpuClass: H100 }), now() + 1000);
    advance(999);
    expect(capacity.get("job-a")).toBeDefined();
    expect(capacity.check(req({ gpuClass: H100 })).fits).toBe(false);
    advance(1);
    expect(capacity.get("job-a")).toBeUndefined();
    expect(changes()).toBe(2);
    expect(capacity.check(req({ gpuClass: H100 })).fits).toBe(true);
  });

  it("keeps a running job's capacity past its hold", () => {
    const { capacity, now, advance } = clocked();
    capacity.reserve("job-a", req({ gpus: 2, gpuClass: H100 }), now() + 1000);
    capacity.markRunning("job-a");
    advance(3_600_000);
    expect(capacity.get("job-a")?.running).toBe(true);
    expect(capacity.runningCount()).toBe(1);
    expect(capacity.reserve("job-b", req({ gpuClass: H100 }), now() + 1000)).toBeUndefined();
  });

  it("never oversubscribes under many concurrent reservations", async () => {
    const { capacity, now } = clocked();
    // 40 orders race for 4 GPUs, 16 cores and 64 GiB, each from its own async task.
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i % 3));
        return capacity.reserve(`job-${i}`, req({ gpus: 1, cpuCores: 3, memMiB: 10_000 }), now() + 60_000);
      }),
    );
    const granted = results.filter((r) => r !== undefined);
    // GPUs allow 4 and memory allows 6, CPU 5: the GPUs run out first.
    expect(granted).toHaveLength(4);
    const indices = granted.flatMap((r) => r.gpuIndices);
    expect(new Set(indices).size).toBe(indices.length);
    const free = capacity.free();
    expect(free.cpuCores).toBe(16 - 4 * 3);
    expect(free.memMiB).toBe(65_536 - 4 * 10_000);
    expect(free.cpuCores).toBeGreaterThanOrEqual(0);
  });

  it("never lets CPU or memory go negative when they run out before the GPUs", () => {
    const { capacity, now } = clocked();
    let granted = 0;
    for (let i = 0; i < 10; i++) {
      if (capacity.reserve(`job-${i}`, req({ gpus: 0, cpuCores: 5, memMiB: 1 }), now() + 1000)) granted++;
    }
    expect(granted).toBe(3);
    expect(capacity.free().cpuCores).toBe(1);
  });
});

describe("Capacity: classes, shortages and utilization", () => {
  it("lists the classes that could take an order now", () => {
    const { capacity, now } = clocked();
    expect(capacity.freeClasses(req())).toEqual([H100, A100]);
    expect(capacity.freeClasses(req({ gpuClass: A100 }))).toEqual([A100]);
    expect(capacity.freeClasses(req({ vramMiB: 50_000 }))).toEqual([H100]);
    expect(capacity.freeClasses(req({ gpus: 0 }))).toEqual([]);
    capacity.reserve("job-a", req({ gpuClass: H100 }), now() + 60_000);
    expect(capacity.freeClasses(req({ gpus: 2 }))).toEqual([A100]);
    expect(capacity.freeClasses(req({ cpuCores: 15 }))).toEqual([]);
  });

  it("names what was short for an order it could run but not now", () => {
    const { capacity, now } = clocked();
    capacity.reserve("job-a", req({ gpus: 2, gpuClass: H100, cpuCores: 14 }), now() + 60_000);
    expect(capacity.shortages(req({ gpuClass: H100 }))).toEqual([H100]);
    // Three cores asked, two free; an A100 is free.
    expect(capacity.shortages(req({ cpuCores: 3 }))).toEqual([H100, "cpu"]);
    expect(capacity.shortages(req({ gpus: 0, memMiB: 65_536 }))).toEqual(["mem"]);
    // The A100s could never take 80 GB: they are not short, they do not fit.
    expect(capacity.shortages(req({ vramMiB: 80_000 }))).toEqual([H100]);
  });

  it("reports units held and in all per class, cpu and mem", () => {
    const { capacity, now, advance } = clocked();
    capacity.reserve("job-a", req({ gpus: 1, gpuClass: A100, cpuCores: 4, memMiB: 1024 }), now() + 1000);
    expect(capacity.utilization()).toEqual(
      new Map([
        [H100, { used: 0, total: 2 }],
        [A100, { used: 1, total: 2 }],
        ["cpu", { used: 4, total: 16 }],
        ["mem", { used: 1024, total: 65_536 }],
      ]),
    );
    advance(1000);
    expect(capacity.utilization().get(A100)).toEqual({ used: 0, total: 2 });
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createUsageAccumulator } from "../../../node/meter/createUsageAccumulator.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";

const observationsArb = fc.array(
  fc.record({
    dt: fc.bigInt({ min: 0n, max: 5_000n }),
    cpuMs: fc.bigInt({ min: 0n, max: 10n ** 7n }),
    rssKiB: fc.bigInt({ min: 0n, max: 2n ** 40n }),
  }),
  { maxLength: 40 },
);

const sumOf = (events: UsageEvent[], meter: string) =>
  events.filter((e) => e.meter === meter).reduce((s, e) => s + e.quantity, 0n);

describe("createUsageAccumulator", () => {
  it("emits exact integer usage with deterministic, unique ids (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        observationsArb,
        (gpus, rss0, obs) => {
          const acc = createUsageAccumulator({ jobId: "j", gpus, start: { monoMs: 1_000n, rssKiB: rss0 } });
          const events: UsageEvent[] = [];
          let mono = 1_000n;
          let prevRss = rss0;
          let kibMs = 0n;
          let maxCpu = 0n;
          obs.forEach((o, seq) => {
            mono += o.dt;
            kibMs += prevRss * o.dt;
            prevRss = o.rssKiB;
            if (o.cpuMs > maxCpu) maxCpu = o.cpuMs;
            const out = acc.sample({ monoMs: mono, timeMs: 5, cpuMs: o.cpuMs, rssKiB: o.rssKiB });
            for (const e of out) {
              expect(e.id).toBe(`j:${e.meter}:${seq}`);
              expect(e.quantity > 0n).toBe(true);
            }
            events.push(...out);
          });
          expect(sumOf(events, "gpu_ms")).toBe(BigInt(gpus) * (mono - 1_000n));
          expect(sumOf(events, "cpu_core_ms")).toBe(maxCpu);
          expect(sumOf(events, "mem_mib_ms")).toBe(kibMs / 1024n);
          expect(acc.totals()).toEqual({
            gpu_ms: sumOf(events, "gpu_ms"),
            cpu_core_ms: maxCpu,
            mem_mib_ms: kibMs / 1024n,
          });
          expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
          expect(acc.samples).toBe(obs.length);
        },
      ),
    );
  });

  it("never refunds CPU when the tree's total drops, and skips zero events", () => {
    const acc = createUsageAccumulator({
      jobId: "j",
      gpus: 0,
      gpuClass: "nvidia-t4-15gb",
      start: { monoMs: 0n, rssKiB: 0n },
    });
    expect(acc.sample({ monoMs: 10n, timeMs: 1, cpuMs: 500n, rssKiB: 1024n })).toEqual([
      { id: "j:cpu_core_ms:0", jobId: "j", source: "node", meter: "cpu_core_ms", quantity: 500n, time: 1 },
    ]);
    expect(acc.sample({ monoMs: 20n, timeMs: 2, cpuMs: 100n, rssKiB: 0n })).toEqual([
      { id: "j:mem_mib_ms:1", jobId: "j", source: "node", meter: "mem_mib_ms", quantity: 10n, time: 2 },
    ]);
    expect(
      acc.sample({ monoMs: 30n, timeMs: 3, cpuMs: 600n, rssKiB: 0n }).map((e) => [e.id, e.quantity]),
    ).toEqual([["j:cpu_core_ms:2", 100n]]);
  });

  it("never bills more CPU than the cores bought × the metered time, whatever the reading says", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.record({ dt: fc.integer({ min: 0, max: 2_000 }), cpu: fc.integer({ min: 0, max: 40_000 }) }),
          { maxLength: 30 },
        ),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (cores, steps, pausedAt) => {
          const acc = createUsageAccumulator({
            jobId: "j",
            gpus: 0,
            cpuCores: cores,
            start: { monoMs: 0n, rssKiB: 0n },
          });
          let mono = 0n;
          let running = 0n;
          let cpu = 0n;
          for (const [i, step] of steps.entries()) {
            mono += BigInt(step.dt);
            cpu += BigInt(step.cpu);
            const paused = pausedAt[i] === true;
            if (!paused) running += BigInt(step.dt);
            acc.sample({ monoMs: mono, timeMs: i, cpuMs: cpu, rssKiB: 0n, paused });
            expect(acc.totals().cpu_core_ms).toBeLessThanOrEqual(BigInt(cores) * running);
            expect(acc.totals().cpu_core_ms).toBeLessThanOrEqual(cpu);
          }
        },
      ),
    );
  });

  it("bills the CPU held back by the cap once the job has run long enough to have used it", () => {
    const acc = createUsageAccumulator({
      jobId: "j",
      gpus: 0,
      cpuCores: 1,
      start: { monoMs: 0n, rssKiB: 0n },
    });
    // 2,000 ms of CPU in the first second of a 1-core job (a reading that double counts): 1,000 billed.
    acc.sample({ monoMs: 1_000n, timeMs: 1, cpuMs: 2_000n, rssKiB: 0n });
    expect(acc.totals().cpu_core_ms).toBe(1_000n);
    // An idle second later the cumulative reading fits: billed up to it, never above.
    acc.sample({ monoMs: 2_000n, timeMs: 2, cpuMs: 2_000n, rssKiB: 0n });
    expect(acc.totals().cpu_core_ms).toBe(2_000n);
  });

  it("tags gpu_ms with the GPU class", () => {
    const acc = createUsageAccumulator({
      jobId: "j",
      gpus: 2,
      gpuClass: "nvidia-h100-80gb",
      start: { monoMs: 0n, rssKiB: 0n },
    });
    expect(acc.sample({ monoMs: 1_000n, timeMs: 9, cpuMs: 0n, rssKiB: 0n })).toEqual([
      {
        id: "j:gpu_ms:0",
        jobId: "j",
        source: "node",
        meter: "gpu_ms",
        quantity: 2_000n,
        time: 9,
        gpuClass: "nvidia-h100-80gb",
      },
    ]);
  });

  it("rejects a bad GPU count", () => {
    expect(() => createUsageAccumulator({ jobId: "j", gpus: -1, start: { monoMs: 0n, rssKiB: 0n } })).toThrow(
      /gpus/,
    );
  });
});

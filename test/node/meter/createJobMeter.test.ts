import { describe, expect, it } from "vitest";
import { createJobMeter } from "../../../node/meter/createJobMeter.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { burnCpu, exited, startShell } from "./childProcess.ts";

/** Meters `sh -c script` until it exits; gpus=1 makes gpu_ms the job's wall time. */
async function meter(script: string) {
  const events: UsageEvent[] = [];
  const child = startShell(script);
  const handle = createJobMeter({
    jobId: "job-7",
    rootPid: child.pid ?? 0,
    gpus: 1,
    intervalMs: 100,
    onEvents: (batch) => {
      events.push(...batch);
    },
  });
  handle.start();
  await exited(child);
  const totals = await handle.stop();
  return { events, totals, wallMs: totals.gpu_ms };
}

const within = (actual: bigint, expected: number, tolerance: number) => {
  expect(Number(actual)).toBeGreaterThanOrEqual(expected * (1 - tolerance));
  expect(Number(actual)).toBeLessThanOrEqual(expected * (1 + tolerance));
};

describe("createJobMeter", () => {
  it("meters one busy core as about its CPU time, never above wall time", async () => {
    const { totals, wallMs } = await meter(`exec "$NODE" -e "${burnCpu(1500)}"`);
    within(totals.cpu_core_ms, 1500, 0.3);
    // On an idle machine CPU ≈ wall; under load wall grows, CPU cannot exceed it.
    expect(totals.cpu_core_ms).toBeLessThanOrEqual(wallMs + 50n);
    expect(totals.mem_mib_ms).toBeGreaterThan(0n);
  });

  it("meters two busy processes as about twice the CPU of one", async () => {
    const burn = `"$NODE" -e "${burnCpu(1500)}"`;
    const { totals, wallMs } = await meter(`${burn} & ${burn} & wait`);
    within(totals.cpu_core_ms, 3000, 0.3);
    expect(totals.cpu_core_ms).toBeLessThanOrEqual(2n * wallMs + 50n);
  });

  it("meters a sleeping process as about zero CPU", async () => {
    const { totals, wallMs } = await meter("sleep 1");
    // The meter starts just after the spawn, so it can see a millisecond or two less than the
    // process lived (the job runner starts it at the spawn, the same way).
    expect(wallMs).toBeGreaterThanOrEqual(990n);
    expect(totals.cpu_core_ms).toBeLessThan(50n);
  });

  it("meters resident memory over time", async () => {
    // Holds ~256 MiB resident for about a second.
    const { totals, wallMs } = await meter(
      `exec "$NODE" -e "const b=Buffer.alloc(256*1024*1024,1);setTimeout(()=>b.length,1000)"`,
    );
    const avgMiB = totals.mem_mib_ms / wallMs;
    expect(avgMiB).toBeGreaterThan(128n);
    expect(avgMiB).toBeLessThan(512n);
  });

  it("emits ids job:meter:seq that are unique, with seq shared per sample", async () => {
    const { events, totals } = await meter(`exec "$NODE" -e "${burnCpu(400)}"`);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of events) {
      expect(e.id).toMatch(/^job-7:(gpu_ms|cpu_core_ms|mem_mib_ms):\d+$/);
      expect(e.quantity > 0n).toBe(true);
      expect(e.source).toBe("node");
      expect(Number.isSafeInteger(e.time)).toBe(true);
    }
    const gpuSeqs = events.filter((e) => e.meter === "gpu_ms").map((e) => Number(e.id.split(":")[2]));
    expect(gpuSeqs).toEqual(gpuSeqs.map((_, i) => i)); // wall time grows at every sample
    const sum = (m: string) => events.filter((e) => e.meter === m).reduce((s, e) => s + e.quantity, 0n);
    expect(totals).toEqual({
      gpu_ms: sum("gpu_ms"),
      cpu_core_ms: sum("cpu_core_ms"),
      mem_mib_ms: sum("mem_mib_ms"),
    });
  });

  it("stop() is idempotent and keeps going when onEvents fails", async () => {
    const child = startShell("sleep 0.3");
    const errors: unknown[] = [];
    const handle = createJobMeter({
      jobId: "j",
      rootPid: child.pid ?? 0,
      gpus: 1,
      intervalMs: 50,
      onEvents: () => {
        throw new Error("disk full");
      },
      onError: (e) => errors.push(e),
    });
    handle.start();
    handle.start();
    await exited(child);
    const [a, b] = await Promise.all([handle.stop(), handle.stop()]);
    expect(a).toEqual(b);
    expect(errors.length).toBeGreaterThan(2);
    expect(() => handle.start()).toThrow(/meter of job j is stopped/);
  });

  it("meters nothing before start()", async () => {
    const handle = createJobMeter({ jobId: "j", rootPid: process.pid, gpus: 4, onEvents: () => {} });
    expect(handle.totals()).toEqual({ gpu_ms: 0n, cpu_core_ms: 0n, mem_mib_ms: 0n });
    expect(await handle.stop()).toEqual({ gpu_ms: 0n, cpu_core_ms: 0n, mem_mib_ms: 0n });
  });
});

import { describe, expect, it } from "vitest";
import { endpointBusyMeter } from "../../../marketplace/endpoint/endpointBusyMeter.ts";
import { RatingError } from "../../../marketplace/rating/errors.ts";

/** Two replicas of 2 GPUs, 4 cores and 8 GiB each; one kept warm. */
const gpuEndpoint = {
  gpus: 4,
  cpuCores: 8,
  memMiB: 16_384,
  maxDurationS: 3600,
  endpoint: { minReplicas: 1, maxReplicas: 2, meterToleranceMs: 1000 },
};
const cpuEndpoint = { ...gpuEndpoint, gpus: 0, endpoint: { ...gpuEndpoint.endpoint, minReplicas: 0 } };

describe("endpointBusyMeter", () => {
  it("bills a GPU replica's busy ms as gpu_ms × its GPUs", () => {
    expect(endpointBusyMeter(gpuEndpoint, { busyMs: 5_000n, runningMs: 1_000n })).toEqual({
      meter: "gpu_ms",
      perReplica: 2n,
      busy: 10_000n,
      warmFloor: 2_000n,
      quantity: 10_000n,
    });
  });

  it("bills a CPU-only replica's busy ms as cpu_core_ms × its cores, and no gpu_ms", () => {
    expect(endpointBusyMeter(cpuEndpoint, { busyMs: 1_500n, runningMs: 60_000n })).toEqual({
      meter: "cpu_core_ms",
      perReplica: 4n,
      busy: 6_000n,
      // minReplicas 0: idle time bills nothing.
      warmFloor: 0n,
      quantity: 6_000n,
    });
  });

  it("never bills less than the warm replicas' allocated time, and never both", () => {
    // Idle for a minute with one warm replica of 2 GPUs: 120,000 GPU-ms.
    expect(endpointBusyMeter(gpuEndpoint, { busyMs: 0n, runningMs: 60_000n }).quantity).toBe(120_000n);
    // Busy 10 s within it: still the floor, not floor + busy.
    expect(endpointBusyMeter(gpuEndpoint, { busyMs: 10_000n, runningMs: 60_000n }).quantity).toBe(120_000n);
    // Both replicas busy most of the minute: above the floor, the busy time.
    expect(endpointBusyMeter(gpuEndpoint, { busyMs: 100_000n, runningMs: 60_000n }).quantity).toBe(200_000n);
  });

  it("names the meter without usage, and refuses a job's agreement or an uneven one", () => {
    expect(endpointBusyMeter(gpuEndpoint).meter).toBe("gpu_ms");
    expect(() => endpointBusyMeter({ ...gpuEndpoint, endpoint: undefined })).toThrow(RatingError);
    expect(() => endpointBusyMeter({ ...gpuEndpoint, gpus: 3 })).toThrow(
      "3 GPUs do not divide evenly among 2 replicas",
    );
  });
});

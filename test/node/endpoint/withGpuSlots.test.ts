import { describe, expect, it } from "vitest";
import type { ReplicaInstance, ReplicaLauncher } from "../../../node/endpoint/types.ts";
import { withGpuSlots } from "../../../node/endpoint/withGpuSlots.ts";

/** A launcher whose replicas exit when the test says; it records the GPUs each was given. */
function recording() {
  const given = new Map<string, readonly string[]>();
  const exits = new Map<string, () => void>();
  const make = (gpuUuids: (replicaId: string) => readonly string[]): ReplicaLauncher => ({
    kind: "docker",
    async start({ replicaId }) {
      given.set(replicaId, gpuUuids(replicaId));
      const exited = new Promise<string>((resolve) => exits.set(replicaId, () => resolve("exited")));
      const instance: ReplicaInstance = {
        id: replicaId,
        address: { host: "127.0.0.1", port: 1 },
        exited,
        stop: async () => exits.get(replicaId)?.(),
      };
      return instance;
    },
  });
  return { given, exits, make };
}

describe("withGpuSlots", () => {
  it("gives each replica its own GPUs, and a new replica the GPUs of one that is gone", async () => {
    const r = recording();
    const launcher = withGpuSlots(
      [
        ["GPU-a", "GPU-b"],
        ["GPU-c", "GPU-d"],
      ],
      r.make,
    );
    const signal = new AbortController().signal;
    await launcher.start({ replicaId: "r1", signal });
    await launcher.start({ replicaId: "r2", signal });
    expect([...r.given]).toEqual([
      ["r1", ["GPU-a", "GPU-b"]],
      ["r2", ["GPU-c", "GPU-d"]],
    ]);
    // A third waits until one of them is gone, then takes its GPUs.
    const third = launcher.start({ replicaId: "r3", signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.given.has("r3")).toBe(false);
    r.exits.get("r1")?.();
    await third;
    expect(r.given.get("r3")).toEqual(["GPU-a", "GPU-b"]);
    // One that waits is let go when its start is aborted.
    const abort = new AbortController();
    const fourth = launcher.start({ replicaId: "r4", signal: abort.signal });
    abort.abort(new Error("stopping"));
    await expect(fourth).rejects.toThrow("stopping");
  });

  it("gives no GPUs to CPU-only replicas, with no waiting", async () => {
    const r = recording();
    const launcher = withGpuSlots([[], []], r.make);
    const signal = new AbortController().signal;
    for (const id of ["r1", "r2", "r3"]) await launcher.start({ replicaId: id, signal });
    expect([...r.given.values()]).toEqual([[], [], []]);
  });
});

import { describe, expect, it } from "vitest";
import { type ContainerSpecParameters, containerSpec } from "../../../../node/run/docker/containerSpec.ts";
import { parseDockerUser } from "../../../../node/run/docker/parseDockerUser.ts";
import { statsToSample } from "../../../../node/run/docker/statsToSample.ts";
import { RunError } from "../../../../node/run/errors.ts";

// Pure functions: these run with or without a Docker Engine.

const MIB = 1024 * 1024;
const base: ContainerSpecParameters = {
  jobId: "job-1",
  nodeLabel: "0xprovider",
  imageId: `sha256:${"c".repeat(64)}`,
  imageReference: "ghcr.io/acme/trainer:v1",
  command: "python",
  args: ["train.py", "--epochs", "3"],
  env: { MODEL: "llama" },
  workDir: "/var/lib/gridspot/jobs/job-1",
  user: "65534:65534",
  network: "none",
  limits: { cpuCores: 2.5, memMiB: 512 },
  pidsLimit: 256,
  tmpfsMiB: 64,
  gpuMode: "nvidia",
  gpuUuids: [],
  imageVolumes: [],
};

describe("containerSpec", () => {
  it("locks the container down", () => {
    const spec = containerSpec(base);
    expect(spec).toMatchObject({
      Image: base.imageId,
      Cmd: ["python", "train.py", "--epochs", "3"],
      User: "65534:65534",
      WorkingDir: "/work",
      Labels: { "gridspot.node": "0xprovider", "gridspot.job": "job-1" },
      Tty: false,
      OpenStdin: false,
    });
    expect(spec).not.toHaveProperty("Entrypoint");
    expect(spec.HostConfig).toMatchObject({
      Init: true,
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      NetworkMode: "none",
      NanoCpus: 2_500_000_000,
      Memory: 512 * MIB,
      MemorySwap: 512 * MIB,
      PidsLimit: 256,
      ShmSize: 64 * MIB,
      DeviceRequests: [],
    });
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: "bind", Source: base.workDir, Target: "/work", ReadOnly: false },
      { Type: "tmpfs", Source: "", Target: "/tmp", TmpfsOptions: { SizeBytes: 64 * MIB, Mode: 0o1777 } },
    ]);
    expect(spec.HostConfig).not.toHaveProperty("Binds");
    expect(spec.HostConfig).not.toHaveProperty("CapAdd");
  });

  it("passes only the job's env plus the GPU assignment", () => {
    const spec = containerSpec({ ...base, env: { MODEL: "llama", NVIDIA_VISIBLE_DEVICES: "all" } });
    expect(spec.Env?.sort()).toEqual([
      "CUDA_DEVICE_ORDER=PCI_BUS_ID",
      "CUDA_VISIBLE_DEVICES=",
      "MODEL=llama",
      "NVIDIA_VISIBLE_DEVICES=void",
    ]);
    expect(() => containerSpec({ ...base, env: { "BAD-NAME": "x" } })).toThrow(RunError);
  });

  it("replaces the entrypoint when the job names one, and allows egress on bridge", () => {
    const spec = containerSpec({ ...base, entrypoint: ["/bin/sh", "-c"], network: "bridge" });
    expect(spec.Entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(spec.HostConfig?.NetworkMode).toBe("bridge");
  });

  it("gives only the assigned GPUs, by UUID (nvidia toolkit or CDI)", () => {
    const gpuUuids = ["GPU-aaaa", "GPU-bbbb"];
    const nvidia = containerSpec({ ...base, gpuUuids });
    expect(nvidia.HostConfig?.DeviceRequests).toEqual([
      { Driver: "nvidia", DeviceIDs: gpuUuids, Capabilities: [["gpu"]] },
    ]);
    expect(nvidia.Env).toContain("NVIDIA_VISIBLE_DEVICES=GPU-aaaa,GPU-bbbb");
    // Inside the container the assigned GPUs are the only ones, numbered from 0.
    expect(nvidia.Env).toContain("CUDA_VISIBLE_DEVICES=0,1");
    const cdi = containerSpec({ ...base, gpuMode: "cdi", gpuUuids });
    expect(cdi.HostConfig?.DeviceRequests).toEqual([
      { Driver: "cdi", DeviceIDs: ["nvidia.com/gpu=GPU-aaaa", "nvidia.com/gpu=GPU-bbbb"] },
    ]);
  });

  it("covers the image's VOLUMEs with tmpfs so the Engine makes no volume", () => {
    const spec = containerSpec({ ...base, imageVolumes: ["/data", "/work", "/tmp/", "/var/cache"] });
    expect(spec.HostConfig?.Mounts?.map((m) => `${m.Type} ${m.Target}`)).toEqual([
      "bind /work",
      "tmpfs /tmp",
      "tmpfs /data",
      "tmpfs /var/cache",
    ]);
  });
});

describe("parseDockerUser", () => {
  it("accepts numeric non-root uid:gid", () => {
    expect(parseDockerUser("65534:65534")).toEqual({ uid: 65534, gid: 65534 });
    expect(parseDockerUser("1000:1000")).toEqual({ uid: 1000, gid: 1000 });
  });

  it.each([
    "0",
    "root",
    "0:0",
    "0:1000",
    "1000:0",
    "root:root",
    "nobody",
    "1000",
    "1000:",
    "-1:5",
    "1000:1000:1",
  ])("refuses %j", (user) => {
    expect(() => parseDockerUser(user)).toThrow(RunError);
  });
});

describe("statsToSample", () => {
  it("reads CPU, memory without inactive cache, pids and egress from the Engine's stats", () => {
    const stats = {
      cpu_stats: { cpu_usage: { total_usage: 2_500_000_000 } },
      memory_stats: { usage: 10 * MIB, stats: { total_inactive_file: 4 * MIB } },
      pids_stats: { current: 3 },
      networks: { eth0: { tx_bytes: 1_000 }, eth1: { tx_bytes: 24 } },
    } as unknown as Parameters<typeof statsToSample>[0];
    expect(statsToSample(stats, { egress: true })).toEqual({
      cpuMs: 2_500n,
      memKiB: 6n * 1024n,
      pids: 3,
      hostPids: [],
      egressBytes: 1_024n,
    });
    expect(statsToSample(stats, { egress: false })).not.toHaveProperty("egressBytes");
  });
});

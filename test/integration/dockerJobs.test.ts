// Container jobs end to end on real parts: anvil, a provider process with the Docker runtime, the
// submitter's client code, and the Docker Engine. What ran (the image digest), why it ended (a limit
// it hit), and what the node leaves behind (nothing, even after a crash) are checked from both sides.
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { submitJob } from "../../marketplace/client/submitJob.ts";
import { getSubmitterJob } from "../../marketplace/client/submitterStore.ts";
import type { JobSpec } from "../../marketplace/messages/job.ts";
import { ensureBusyboxImage } from "../../scripts/lib/localImages.ts";
import { DOCKER_SOCKET, dockerMissing, skipWhen } from "../support/requires.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import {
  createTestSubmitter,
  startTestProvider,
  type TestProvider,
  type TestSubmitter,
} from "./support/nodes.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

const IMAGE = "gridspot/busybox:local";
const notRoot =
  process.getuid?.() !== 0
    ? "container jobs need a root provider (the work dir goes to the job's uid)"
    : undefined;
skipWhen(dockerMissing ?? notRoot);

let market: Market;
const docker = new Docker({ socketPath: DOCKER_SOCKET });
const cleanups = createCleanups();

beforeAll(async () => {
  if (dockerMissing !== undefined || notRoot !== undefined) return;
  await ensureBusyboxImage(docker, IMAGE);
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

/** A provider that runs containers only, with CPUs (its fake GPUs cannot reach containers here). */
async function dockerProvider(
  o: { reuse?: { key: `0x${string}`; dataDir: string } } = {},
): Promise<TestProvider> {
  const provider = await startTestProvider(market, {
    ...(o.reuse === undefined ? {} : { reuse: o.reuse }),
    config: { runtime: { kind: "docker", meterIntervalMs: 100, diskMiB: 64 } },
  });
  cleanups.add(() => provider.stop());
  return provider;
}

async function submit(
  payer: TestSubmitter,
  spec: Omit<JobSpec, "env" | "outputs"> & Partial<JobSpec>,
  memMiB = 256,
) {
  return submitJob(payer.submitter, {
    requirements: { gpus: 0, cpuCores: 1, memMiB, maxDurationS: 60 },
    maxRates: [],
    budget: GRID,
    spec: { env: {}, outputs: [], ...spec },
    inputs: [],
    outputDir: join(market.work, `out-${Date.now()}`),
    bidWindowMs: 1_000,
    explain: true,
    redeemWaitMs: 10_000,
  });
}

const containersOf = async (label: string) =>
  docker.listContainers({ all: true, filters: { label: [label] } });

describe("container jobs", () => {
  it("run in the image, report its digest to both sides, deliver outputs and leave nothing behind", async () => {
    const provider = await dockerProvider();
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const status = await getJson<{
      gpu: { offered: boolean; reason?: string };
      runtime: { runtimes: { kind: string }[] };
    }>(provider.api("/v1/status"));
    expect(status.runtime.runtimes.map((r) => r.kind)).toEqual(["docker"]);
    // No NVIDIA Container Toolkit here: the fake GPUs are not offered, and the node says why.
    expect(status.gpu.offered).toBe(false);
    expect(status.gpu.reason).toMatch(/toolkit|CDI/i);

    const result = await submit(payer, {
      image: IMAGE,
      command: "sh",
      args: ["-c", "id -u > whoami.txt; echo hello from the container; sleep 1"],
      outputs: ["whoami.txt"],
    });
    expect(result.status).toBe("completed");
    expect(result.runtime).toBe("docker");
    expect(result.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const image = await docker.getImage(IMAGE).inspect();
    expect(result.imageDigest).toBe(image.Id);
    expect(result.startedAt).toBeLessThan(result.endedAt ?? 0);
    expect(result.outputs).toHaveLength(1);
    expect(result.amount).toBeGreaterThan(0n);

    const stored = getSubmitterJob(payer.submitter.store, result.jobId);
    expect(stored?.imageDigest).toBe(image.Id);
    expect(stored?.runtime).toBe("docker");
    expect(stored?.reasonCode).toBe("exit");
    const apiJob = await getJson<{
      imageDigest: string;
      runtime: string;
      reasonCode: string;
      startedAt: number;
    }>(provider.api(`/v1/jobs/${result.jobId}`));
    expect(apiJob.imageDigest).toBe(image.Id);
    expect(apiJob.runtime).toBe("docker");
    expect(apiJob.startedAt).toBe(result.startedAt);
    // Outputs delivered: its container and work dir are gone.
    await waitFor("the container removed", async () =>
      (await containersOf(`gridspot.job=${result.jobId}`)).length === 0 ? true : undefined,
    );
  });

  it("throttles an honest job with more threads than cores: every note accepted, CPU billed within cores × time", async () => {
    const provider = await dockerProvider();
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const verdicts: string[] = [];
    const result = await submitJob(payer.submitter, {
      requirements: { gpus: 0, cpuCores: 1, memMiB: 256, maxDurationS: 60 },
      maxRates: [],
      budget: GRID,
      spec: {
        image: IMAGE,
        command: "sh",
        args: ["-c", "for i in 1 2 3 4; do timeout 3 sh -c 'while :; do :; done' & done; wait"],
        env: {},
        outputs: [],
      },
      inputs: [],
      outputDir: join(market.work, "out-threads"),
      bidWindowMs: 1_000,
      explain: false,
      redeemWaitMs: 1_000,
      events: { onNote: (_note, verdict) => verdicts.push(verdict) },
    });
    expect(result.status).toBe("completed");
    expect(verdicts.length).toBeGreaterThan(2);
    expect(verdicts.every((v) => v === "accepted")).toBe(true);
    const runningMs = BigInt((result.endedAt ?? 0) - (result.startedAt ?? 0));
    expect(result.usage.cpu_core_ms ?? 0n).toBeGreaterThan(0n);
    // The meter caps CPU at cores × its own window, which starts after `startedAt` and ends at its
    // last sample, up to one meter interval after `endedAt` (the cgroup's quota lets a few ms more
    // than a core through under load: 3,064 ms in 3,036 ms was seen).
    expect(result.usage.cpu_core_ms ?? 0n).toBeLessThanOrEqual(runningMs + 100n);
  });

  it("declines an order whose image this provider does not have, saying why", async () => {
    const provider = await dockerProvider();
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    await expect(
      submit(payer, { image: "ghcr.io/nobody/absent:1", command: "true", args: [] }),
    ).rejects.toThrow(/image-not-allowed/);
  });

  it("stops a job at its memory: failed with reason oom, billed up to the kill", async () => {
    const provider = await dockerProvider();
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const result = await submit(
      payer,
      { image: IMAGE, command: "sh", args: ["-c", "sleep 1; head -c 512m /dev/zero | tail; echo survived"] },
      64,
    );
    expect(result.status).toBe("failed");
    expect(result.reasonCode).toBe("oom");
    expect(result.amount).toBeGreaterThan(0n);
    expect(result.vouchers.length).toBeGreaterThan(0);
  });

  it("removes the containers a crashed node left before offering capacity again", async () => {
    const first = await dockerProvider();
    const payer = await createTestSubmitter(market, [first]);
    cleanups.add(() => payer.submitter.close());
    const label = `gridspot.node=${first.address}`;
    const pending = submit(payer, { image: IMAGE, command: "sh", args: ["-c", "sleep 60"] });
    await waitFor("the job's container", async () =>
      (await containersOf(label)).length > 0 ? true : undefined,
    );
    await first.stop("SIGKILL");
    await pending.catch(() => undefined);
    expect((await containersOf(label)).length).toBe(1);
    const second = await dockerProvider({ reuse: { key: first.key, dataDir: first.dataDir } });
    // It listens (its JSON line printed) only after the cleanup: nothing of the crash is left.
    expect((await containersOf(label)).length).toBe(0);
    expect(second.log()).toMatch(/removed what an earlier run left behind/);
  });
});

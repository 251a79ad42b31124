import { dockerMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(dockerMissing);

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createDockerRuntime } from "../../../../node/run/docker/createDockerRuntime.ts";
import { dockerGpuSupport } from "../../../../node/run/docker/dockerGpuSupport.ts";
import { probeDocker } from "../../../../node/run/docker/probeDocker.ts";
import { RunError } from "../../../../node/run/errors.ts";
import { DOCKER_SOCKET } from "../../../support/requires.ts";
import { dockerClient, testRuntime } from "./helpers.ts";

const scratch = mkdtempSync(join(tmpdir(), "gridspot-docker-setup-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("probeDocker", () => {
  it("finds the Engine and its versions", async () => {
    const probe = await probeDocker(DOCKER_SOCKET);
    expect(probe).toMatchObject({
      available: true,
      version: expect.any(String),
      apiVersion: expect.any(String),
    });
  });

  it("says why when nothing answers", async () => {
    const probe = await probeDocker(join(scratch, "no.sock"), 500);
    expect(probe).toEqual({
      available: false,
      reason: `no Docker Engine at ${join(scratch, "no.sock")} (ENOENT)`,
    });
  });
});

describe("dockerGpuSupport", () => {
  it("finds no toolkit where there is none, and a CDI spec naming nvidia.com/gpu", async () => {
    const docker = dockerClient();
    const none = await dockerGpuSupport(docker, { pathEnv: "", cdiDirs: [join(scratch, "missing")] });
    const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
    if (info.Runtimes?.nvidia === undefined) {
      expect(none).toMatchObject({ usable: false, mode: "none" });
      expect(none.reason).toMatch(/no NVIDIA Container Toolkit/);
      const cdi = join(scratch, "cdi");
      mkdirSync(cdi);
      writeFileSync(join(cdi, "nvidia.yaml"), 'cdiVersion: "0.5.0"\nkind: nvidia.com/gpu\ndevices: []\n');
      expect(await dockerGpuSupport(docker, { pathEnv: "", cdiDirs: [cdi] })).toEqual({
        usable: true,
        mode: "cdi",
        reason: `CDI spec ${join(cdi, "nvidia.yaml")} names nvidia.com/gpu devices`,
      });
    } else {
      expect(none).toMatchObject({ usable: true, mode: "nvidia" });
    }
  });
});

describe("createDockerRuntime", () => {
  it("refuses root and unknown networks", async () => {
    for (const user of ["0", "root", "0:0"]) {
      await expect(createDockerRuntime({ nodeLabel: "x", socketPath: DOCKER_SOCKET, user })).rejects.toThrow(
        RunError,
      );
    }
    await expect(
      createDockerRuntime({ nodeLabel: "x", socketPath: DOCKER_SOCKET, network: "host" as "bridge" }),
    ).rejects.toThrow(/network must be "none" or "bridge"/);
  });

  it("fails to start without an Engine", async () => {
    await expect(
      createDockerRuntime({ nodeLabel: "x", socketPath: join(scratch, "no.sock") }),
    ).rejects.toThrow(/no Docker Engine/);
  });

  it("refuses a GPU job where GPUs cannot reach containers, and a job without an image", async () => {
    const t = await testRuntime({ gpuMode: "none" });
    try {
      await expect(t.sh("true", { gpus: { indices: [0], uuids: ["GPU-1234"] } })).rejects.toThrow(
        /cannot give GPUs to containers/,
      );
      await expect(t.sh("true", { image: "" })).rejects.toThrow("the docker runtime needs an image to run");
      await expect(t.sh("true", { workDir: join(scratch, "absent") })).rejects.toThrow(
        /is not an existing folder/,
      );
    } finally {
      await t.cleanup();
    }
  });
});

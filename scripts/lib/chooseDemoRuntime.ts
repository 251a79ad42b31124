import Docker from "dockerode";
import { dockerGpuSupport } from "../../node/run/docker/dockerGpuSupport.ts";
import { probeDocker } from "../../node/run/docker/probeDocker.ts";
import { probeBwrap } from "../../node/run/process/probeBwrap.ts";
import { ensureBusyboxImage } from "./localImages.ts";
import { defaultRuntime } from "./providerProcess.ts";

/** How the demo's providers run its jobs, and why (said on stderr and in the summary). */
export interface DemoRuntime {
  kind: "docker" | "process";
  /** The providers' `runtime` config. */
  providerRuntime: Record<string, unknown>;
  /** The locally built image container jobs run in; undefined: every job is a process. */
  image?: string;
  /** Whether GPU jobs can run in containers here (the NVIDIA Container Toolkit or CDI). */
  gpusInContainers: boolean;
  why: string;
}

const DEMO_IMAGE = "gridspot/busybox:local";

/**
 * `docker`: Docker must answer (else an error saying so); `process`: never Docker; `auto`: Docker
 * when its socket answers and busybox-static is there to build the image, else processes. The
 * process runtime runs in bubblewrap when it works, else explicitly unsandboxed.
 */
export async function chooseDemoRuntime(wanted: "auto" | "docker" | "process"): Promise<DemoRuntime> {
  const processRuntime = await defaultRuntime();
  const probe = await probeBwrap();
  const sandboxWhy = probe.available
    ? "in bubblewrap"
    : `without a sandbox (${probe.reason}; the demo's jobs are its own)`;
  const asProcesses = (why: string): DemoRuntime => ({
    kind: "process",
    providerRuntime: processRuntime,
    gpusInContainers: false,
    why: `process runtime, jobs ${sandboxWhy}: ${why}`,
  });
  if (wanted === "process") return asProcesses("--runtime process");
  const engine = await probeDocker();
  if (!engine.available) {
    if (wanted === "docker") throw new Error(`--runtime docker: ${engine.reason}`);
    return asProcesses(engine.reason);
  }
  const docker = new Docker();
  try {
    await ensureBusyboxImage(docker, DEMO_IMAGE);
  } catch (error) {
    if (wanted === "docker") throw error;
    return asProcesses(`cannot build the demo image: ${(error as Error).message}`);
  }
  const gpu = await dockerGpuSupport(docker);
  const gpusInContainers = gpu.mode !== "none";
  return {
    kind: "docker",
    // Docker for the container jobs, the process runtime beside it for GPU jobs Docker cannot serve.
    providerRuntime: { ...processRuntime, kind: "auto" },
    image: DEMO_IMAGE,
    gpusInContainers,
    why: `docker ${engine.version}: jobs in containers of ${DEMO_IMAGE} (built here)${gpusInContainers ? "" : `; GPU jobs as processes ${sandboxWhy}, since ${gpu.reason}`}`,
  };
}

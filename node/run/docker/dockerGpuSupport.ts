import { constants } from "node:fs";
import { access, readdir, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type Docker from "dockerode";

/** How GPUs reach containers on this host, if they do. */
export interface DockerGpuSupport {
  usable: boolean;
  /** `nvidia`: DeviceRequests through the NVIDIA Container Toolkit; `cdi`: CDI device names. */
  mode: "nvidia" | "cdi" | "none";
  reason: string;
}

/** Where the toolkit's `nvidia-ctk cdi generate` writes specs. */
const CDI_SPEC_DIRS = ["/etc/cdi", "/var/run/cdi"] as const;

/**
 * Looks for the NVIDIA Container Toolkit (an `nvidia` runtime registered with the Engine, or its
 * hook / `nvidia-ctk` on PATH), then for CDI specs naming `nvidia.com/gpu` devices. Never rejects.
 */
export async function dockerGpuSupport(
  docker: Docker,
  options: { pathEnv?: string | undefined; cdiDirs?: readonly string[] } = {},
): Promise<DockerGpuSupport> {
  const info = (await docker.info().catch(() => undefined)) as
    | { Runtimes?: Record<string, unknown> }
    | undefined;
  if (info?.Runtimes !== undefined && "nvidia" in info.Runtimes) {
    return {
      usable: true,
      mode: "nvidia",
      reason: "the Engine has the NVIDIA Container Toolkit's nvidia runtime",
    };
  }
  const pathEnv = "pathEnv" in options ? options.pathEnv : process.env.PATH;
  for (const tool of ["nvidia-container-runtime-hook", "nvidia-ctk"]) {
    const path = await onPath(tool, pathEnv);
    if (path !== undefined) {
      return { usable: true, mode: "nvidia", reason: `NVIDIA Container Toolkit found (${path})` };
    }
  }
  for (const dir of options.cdiDirs ?? CDI_SPEC_DIRS) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => /\.(ya?ml|json)$/.test(n))) {
      const spec = await readFile(join(dir, name), "utf8").catch(() => "");
      if (spec.includes("nvidia.com/gpu")) {
        return {
          usable: true,
          mode: "cdi",
          reason: `CDI spec ${join(dir, name)} names nvidia.com/gpu devices`,
        };
      }
    }
  }
  return {
    usable: false,
    mode: "none",
    reason:
      "no NVIDIA Container Toolkit (nvidia runtime, nvidia-container-runtime-hook, nvidia-ctk) and no CDI spec for nvidia.com/gpu",
  };
}

async function onPath(name: string, pathEnv: string | undefined): Promise<string | undefined> {
  for (const dir of (pathEnv ?? "").split(delimiter).filter((d) => d !== "")) {
    const candidate = join(dir, name);
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

import Docker from "dockerode";
import { DEFAULT_DOCKER_SOCKET, DOCKER_PROBE_TIMEOUT_MS } from "./constants.ts";

/** Whether a Docker Engine answers on the socket, and which one. */
export type DockerProbe =
  | { available: true; version: string; apiVersion: string }
  | { available: false; reason: string };

/**
 * Pings the Engine at `socketPath` and reads its version, each call bounded by `timeoutMs`. Never
 * rejects: an absent socket, a refused connection, a timeout or an error answer become `reason`.
 */
export async function probeDocker(
  socketPath: string = DEFAULT_DOCKER_SOCKET,
  timeoutMs: number = DOCKER_PROBE_TIMEOUT_MS,
): Promise<DockerProbe> {
  const docker = new Docker({ socketPath, timeout: timeoutMs });
  try {
    await docker.ping();
    const version = await docker.version();
    return { available: true, version: version.Version, apiVersion: version.ApiVersion };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error instanceof Error ? error.message : String(error);
    return { available: false, reason: `no Docker Engine at ${socketPath} (${code ?? message})` };
  }
}

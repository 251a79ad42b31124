import type { JobRuntimes } from "../run/createJobRuntimes.ts";

/** How an endpoint's replicas run here: containers of an image, or (development only) plain processes. */
export type EndpointRuntime = { kind: "docker"; image: string } | { kind: "process" };

/**
 * Where this node would run an endpoint's replicas, or why it cannot in words: an image (the
 * order's, or the operator's default image for a plain command) runs in Docker containers, like a
 * job; a plain command only with `endpoints.processReplicas` (development and tests: NO isolation,
 * and no GPU share enforced either: a process replica sees every GPU of the host). The bid engine
 * declines with this refusal, and the job service refuses such a start.
 */
export function pickEndpointRuntime(
  runtimes: Pick<JobRuntimes, "pick">,
  job: { image?: string | undefined; gpusPerReplica: number },
  options: { processReplicas: boolean },
): EndpointRuntime | string {
  const picked = runtimes.pick({ image: job.image, gpus: job.gpusPerReplica });
  if (typeof picked !== "string" && picked.runtime.kind === "docker" && picked.image !== undefined) {
    return { kind: "docker", image: picked.image };
  }
  // A plain command (no image, and no default image to run it in): local processes, if allowed.
  if (job.image === undefined && options.processReplicas) return { kind: "process" };
  if (typeof picked === "string") return picked;
  return "this provider serves endpoints only from container images on Docker: give the endpoint an image";
}
